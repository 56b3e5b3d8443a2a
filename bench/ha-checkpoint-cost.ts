/**
 * Benchmark — what high availability costs checkpointing (issue 10): the keyed-count job
 * (bench/jobs/keyed-state.ts: datagen of 10 000 string keys → keyBy → a count per key in a LevelDB
 * ValueState → discarding sink, a checkpoint every 500 ms, parallelism 1, bounded) on a cluster
 * with `high-availability.type=etcd` (one JobManager campaigning on one etcd member: each checkpoint
 * takes its id from etcd and records its pointer there, fenced, before tasks are told to commit)
 * and on one with `none` (ids and pointers in memory), both running at once with their jobs
 * alternating, so that both see the same machine load.
 *
 * Rows: throughput (records / (FINISHED − RUNNING)), median of the runs, etcd against none (aim ≥ 0.95
 * of none's); and the median end-to-end duration of the job's completed checkpoints (informative).
 */
import { loadavg } from "node:os";
import { EtcdCluster } from "../e2e/harness/etcd.js";
import { HaTestCluster } from "../e2e/harness/ha-cluster.js";
import type { Benchmark, BenchmarkContext, Measured } from "./benchmark.js";
import { type TestCluster, benchJob, checkpointStatistics, startCluster } from "./riffle.js";
import { median } from "./stats.js";

interface Run {
  recordsPerSecond: number;
  checkpointMs: number[];
}

async function runOnce(cluster: TestCluster, records: number): Promise<Run> {
  const jobId = await cluster.submit(benchJob("keyed-state"), {
    parallelism: 1,
    args: ["--backend", "leveldb", "--keys", "10000", "--interval", "500", "--count", String(records)],
  });
  const job = await cluster.waitForStatus(jobId, "FINISHED", 300_000);
  if (Number(job.numRestarts) > 0) throw new Error(`job ${jobId} restarted: its timing means nothing`);
  const ts = job.timestamps as Record<string, number>;
  const runningMs = Math.max(1, ts.FINISHED! - ts.RUNNING!);
  const stats = await checkpointStatistics(cluster, jobId);
  const checkpointMs = stats.history.filter((c) => c.status === "COMPLETED").map((c) => c.end_to_end_duration);
  return { recordsPerSecond: (records / runningMs) * 1000, checkpointMs };
}

export const haCheckpointCost: Benchmark = {
  name: "ha-checkpoint-cost",
  results: "ha",
  async run(ctx: BenchmarkContext): Promise<Measured[]> {
    const records = ctx.quick ? 100_000 : 1_000_000;
    const runs = ctx.quick ? 1 : ctx.runs;
    const etcd = await EtcdCluster.start();
    const none = await startCluster({ taskmanagers: 1 });
    let ha: HaTestCluster | undefined;
    try {
      ha = await HaTestCluster.startHa({ etcd, jobmanagers: 1, taskmanagers: 1 });
      const load = loadavg()[0]!;
      const withNone: Run[] = [];
      const withEtcd: Run[] = [];
      for (let r = 0; r < runs; r++) {
        withNone.push(await runOnce(none, records));
        withEtcd.push(await runOnce(ha, records));
        ctx.log(
          `run ${r + 1}: none ${Math.round(withNone.at(-1)!.recordsPerSecond)} rec/s, etcd ${Math.round(withEtcd.at(-1)!.recordsPerSecond)} rec/s; checkpoints ${median(withNone.at(-1)!.checkpointMs)} / ${median(withEtcd.at(-1)!.checkpointMs)} ms (median)`,
        );
      }
      const parameters = { records, runs, keys: 10_000, checkpointIntervalMs: 500, backend: "leveldb", loadAvg1m: +load.toFixed(2) };
      const rps = (runs: Run[]) => runs.map((x) => Math.round(x.recordsPerSecond));
      const chk = (runs: Run[]) => runs.flatMap((x) => x.checkpointMs);
      return [
        {
          benchmark: "ha-checkpoint-cost",
          metric: "throughput etcd vs none",
          title: "Keyed count with a checkpoint every 500 ms: throughput with high-availability.type=etcd",
          value: median(rps(withEtcd)),
          unit: "rec/s",
          baseline: { name: "the same job with high-availability.type=none", value: median(rps(withNone)) },
          better: "higher",
          aim: { min: 0.95 },
          parameters,
          samples: { value: rps(withEtcd), baseline: rps(withNone) },
        },
        {
          benchmark: "ha-checkpoint-cost",
          metric: "checkpoint duration etcd vs none",
          title: "Keyed count with a checkpoint every 500 ms: checkpoint end-to-end duration with etcd, median",
          value: median(chk(withEtcd)),
          unit: "ms",
          baseline: { name: "with none, median", value: median(chk(withNone)) },
          better: "lower",
          parameters,
          samples: { value: chk(withEtcd), baseline: chk(withNone) },
        },
      ];
    } finally {
      await ha?.stop();
      await none.stop();
      await etcd.close();
    }
  },
};
