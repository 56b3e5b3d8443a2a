import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TestCluster, bySize, committedLines, killTaskManagers, mulberry32 } from "./harness/index.js";

/**
 * The long tier (npm run test:long) runs 1M records with 5 kills; npm test 300k records with 3. The
 * chaos run is rate-limited so that it runs long enough for its kills (at least 10 s
 * without them; 17 s at full size).
 */
const SIZE = bySize({
  short: { records: 300_000, kills: 3, rate: 30_000 },
  long: { records: 1_000_000, kills: 5, rate: 60_000 },
});
const RECORDS = SIZE.records;

describe.each(["leveldb", "memory"])("exactly-once under chaos (%s backend)", (backend) => {
  it(`${SIZE.kills} kill -9 of random TaskManagers at random moments: committed output equals a failure-free run`, async () => {
    const seed = Number(process.env.RIFFLE_CHAOS_SEED ?? 20261122);
    const random = mulberry32(seed + (backend === "memory" ? 1 : 0));
    const cluster = await TestCluster.start({
      taskmanagers: 3,
      config: { "heartbeat.interval": "500ms", "heartbeat.timeout": "3s" },
    });
    try {
      const jobConfig = (out: string, rate: number) => ({
        parallelism: 3,
        args: ["--out", out, "--count", String(RECORDS), "--rate", String(rate), "--backend", backend],
      });

      // The failure-free run.
      const cleanDir = join(cluster.dir, "clean");
      const clean = await cluster.submit("e2e/jobs/exactly-once.ts", jobConfig(cleanDir, 0));
      await cluster.waitForStatus(clean, "FINISHED", 120_000);
      const expected = committedLines(cleanDir);
      expect(expected.length).toBe(RECORDS);

      // The chaos run: rate-limited so that it runs long enough for its failures.
      const chaosDir = join(cluster.dir, "chaos");
      const jobId = await cluster.submit("e2e/jobs/exactly-once.ts", jobConfig(chaosDir, SIZE.rate));
      await killTaskManagers(cluster, jobId, { kills: SIZE.kills, random, minMs: 500, spanMs: 2000 });
      const job = await cluster.waitForStatus(jobId, "FINISHED", 180_000);
      expect(job.numRestarts).toBeGreaterThanOrEqual(SIZE.kills);
      const actual = committedLines(chaosDir);
      expect(actual.length).toBe(expected.length);
      expect(actual).toEqual(expected);
    } finally {
      await cluster.stop();
    }
  }, 400_000);
});
