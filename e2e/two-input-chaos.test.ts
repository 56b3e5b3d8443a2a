import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TestCluster, bySize, checkpointStats, committedLines, killTaskManagers, mulberry32, waitForCheckpoints } from "./harness/index.js";
import { LOWER_MS, UPPER_MS, order, payment } from "./jobs/interval-join-exactly-once.js";

/**
 * A two-input keyed operator survives TaskManager failures with exactly-once output: an interval join
 * of two datagen streams, its buffers of both inputs in keyed state and its cleanup timers on the
 * joined watermark, while TaskManagers are killed (kill -9). Restores need checkpoints whose barriers
 * aligned across both inputs of the join; the committed pairs equal those of a failure-free run, and
 * both equal a brute-force join.
 */

const EVENTS = 12_000;
/** Events per second per stream in the chaos run: ~6 s without failures, so the kills land mid-stream. */
const CHAOS_RATE = 2_000;
const JOB = "e2e/jobs/interval-join-exactly-once.ts";
/** Kills: 3 in the long tier (npm run test:long), 2 in npm test; the second restore already starts from a restored attempt's checkpoint. */
const KILLS = bySize({ short: 2, long: 3 });

interface CheckpointStats {
  counts: { completed: number };
}

/** Every pair the join must commit, "order payment", computed directly from the two streams. */
function bruteForce(): string[] {
  const paymentsByCustomer = new Map<number, { id: number; time: number }[]>();
  for (let j = 0; j < EVENTS; j++) {
    const p = payment(j);
    let list = paymentsByCustomer.get(p.customer);
    if (!list) paymentsByCustomer.set(p.customer, (list = []));
    list.push(p);
  }
  const pairs: string[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const o = order(i);
    for (const p of paymentsByCustomer.get(o.customer) ?? []) {
      if (p.time >= o.time + LOWER_MS && p.time <= o.time + UPPER_MS) pairs.push(`${o.id} ${p.id}`);
    }
  }
  return pairs.sort();
}

describe("a two-input keyed operator under chaos", () => {
  it("TaskManagers killed while an interval join buffers both inputs: committed pairs equal the failure-free run and the brute-force join", async () => {
    const random = mulberry32(Number(process.env.RIFFLE_CHAOS_SEED ?? 20261123));
    const cluster = await TestCluster.start({ taskmanagers: 3, config: { "heartbeat.interval": "500ms", "heartbeat.timeout": "3s" } });
    try {
      const expected = bruteForce();
      // Enough pairs that a lost or repeated stretch of either input shows.
      expect(expected.length).toBeGreaterThan(30_000);
      const args = (out: string, rate: number) => ({ parallelism: 3, args: ["--out", out, "--count", String(EVENTS), "--rate", String(rate)] });

      const cleanDir = join(cluster.dir, "clean");
      const clean = await cluster.submit(JOB, args(cleanDir, 0));
      await cluster.waitForStatus(clean, "FINISHED", 120_000);
      expect(committedLines(cleanDir)).toEqual(expected);

      const chaosDir = join(cluster.dir, "chaos");
      const jobId = await cluster.submit(JOB, args(chaosDir, CHAOS_RATE));
      // Replacements start while the job recovers (a TaskManager process takes seconds to start on a
      // loaded machine); the job waits for their slots if the survivors have too few.
      await killTaskManagers(cluster, jobId, {
        kills: KILLS,
        random,
        // After that checkpoint (beforeKill), a seeded random point inside the next interval or two.
        minMs: 0,
        spanMs: 1000,
        // Each attempt completes a checkpoint of its own before it is killed, so every restore starts
        // from join state that a restored attempt checkpointed again (buffers and timers of both inputs).
        beforeKill: async () => {
          const { counts } = await checkpointStats<CheckpointStats>(cluster, jobId);
          await waitForCheckpoints<CheckpointStats>(cluster, jobId, (s) => s.counts.completed > counts.completed, 60_000);
        },
        replaceInBackground: true,
      });
      const job = await cluster.waitForStatus(jobId, "FINISHED", 180_000);
      expect(job.numRestarts).toBeGreaterThanOrEqual(KILLS);
      expect(committedLines(chaosDir)).toEqual(expected);
    } finally {
      await cluster.stop();
    }
  }, 400_000);
});
