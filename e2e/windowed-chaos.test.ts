import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TestCluster, bySize, committedLines, killTaskManagers, mulberry32 } from "./harness/index.js";
import { event } from "./jobs/windowed-exactly-once.js";

/**
 * Event-time windows survive TaskManager failures with exactly-once output: TaskManagers are killed
 * (kill -9) while windows are open; the committed window results equal those of a failure-free run,
 * and both equal a brute-force computation of every window.
 */

/**
 * The long tier (npm run test:long) kills 3 times in 150k events, npm test twice in 100k; the chaos
 * run takes at least 10 s or 6.7 s at 15k events/s, long enough for its kills.
 */
const SIZE = bySize({ short: { events: 100_000, kills: 2 }, long: { events: 150_000, kills: 3 } });
const EVENTS = SIZE.events;
const JOB = "e2e/jobs/windowed-exactly-once.ts";

/** Every window result the job must commit, computed directly from the events. */
function bruteForce(): string[] {
  const tumbling = new Map<string, [number, number]>();
  const sliding = new Map<string, number>();
  for (let i = 0; i < EVENTS; i++) {
    const e = event(i);
    const t = Math.floor(e.time / 1000) * 1000;
    const acc = tumbling.get(`${e.key} ${t}`) ?? [0, 0];
    tumbling.set(`${e.key} ${t}`, [acc[0] + 1, acc[1] + e.value]);
    for (let start = t; start > e.time - 3000; start -= 1000) sliding.set(`${e.key} ${start}`, (sliding.get(`${e.key} ${start}`) ?? 0) + 1);
  }
  return [...[...tumbling].map(([k, [n, s]]) => `T ${k} ${n} ${s}`), ...[...sliding].map(([k, n]) => `S ${k} ${n}`)].sort();
}

describe("event-time windows under chaos", () => {
  it("TaskManagers killed mid-window: committed window results equal the failure-free run and the brute-force windows", async () => {
    const random = mulberry32(Number(process.env.RIFFLE_CHAOS_SEED ?? 20261122));
    const cluster = await TestCluster.start({ taskmanagers: 3, config: { "heartbeat.interval": "500ms", "heartbeat.timeout": "3s" } });
    try {
      const expected = bruteForce();
      const args = (out: string, rate: number) => ({
        parallelism: 3,
        args: ["--out", out, "--count", String(EVENTS), "--rate", String(rate), "--backend", "leveldb"],
      });

      const cleanDir = join(cluster.dir, "clean");
      const clean = await cluster.submit(JOB, args(cleanDir, 0));
      await cluster.waitForStatus(clean, "FINISHED", 120_000);
      expect(committedLines(cleanDir)).toEqual(expected);

      const chaosDir = join(cluster.dir, "chaos");
      const jobId = await cluster.submit(JOB, args(chaosDir, 15_000));
      await killTaskManagers(cluster, jobId, { kills: SIZE.kills, random, minMs: 700, spanMs: 1500 });
      const job = await cluster.waitForStatus(jobId, "FINISHED", 180_000);
      expect(job.numRestarts).toBeGreaterThanOrEqual(SIZE.kills);
      expect(committedLines(chaosDir)).toEqual(expected);
    } finally {
      await cluster.stop();
    }
  }, 400_000);
});
