/**
 * Benchmark 1 — stateless chain at parallelism 1 (1 JobManager + 1 TaskManager process):
 * datagen → map → filter → discarding sink, chained into one task (bench/jobs/stateless-chain.ts).
 *
 * Riffle: N / (FINISHED − RUNNING) of the job record, after checking that the sink got every record
 * that passes the filter (bench/riffle.ts, timeBoundedJob: a mismatch fails the benchmark). Baseline: the same generator, map and filter
 * fused into one hand-written loop in a child process (bench/baselines/fused-loop.ts). The ratio is
 * the share of one core that Riffle leaves to the user's functions; the aim is ≥ 0.25.
 */
import type { Benchmark, BenchmarkContext, Measured } from "./benchmark.js";
import { measureFusedLoop } from "./baselines/fused-loop.js";
import { statelessChainOutputs } from "./jobs/records.js";
import { type ExpectedRecords, benchJob, calibrate, startCluster, timeBoundedJob } from "./riffle.js";
import { median } from "./stats.js";

/** The Riffle job should run at least this long, so that deployment (tens of ms) stays a small share. */
const TARGET_SECONDS = 3.5;

/** Every record that passes the filter reaches the sink; the benchmark fails otherwise. */
const expected = (records: number): ExpectedRecords => ({ sinkWrites: statelessChainOutputs(records) });

export const statelessChain: Benchmark = {
  name: "stateless-chain",
  async run(ctx: BenchmarkContext): Promise<Measured[]> {
    const job = benchJob("stateless-chain");
    const cluster = await startCluster({ taskmanagers: 1 }, ctx.profileDir && `${ctx.profileDir}/stateless-chain`);
    try {
      // The warm-up jobs load the bundle and warm the TaskManager's JIT; their rate sizes the runs.
      const cal = await calibrate((records) => timeBoundedJob(cluster, job, { parallelism: 1, records, expected }), {
        warmupRecords: ctx.quick ? 500_000 : 10_000_000,
        targetSeconds: TARGET_SECONDS,
      });
      const records = ctx.quick ? 2_000_000 : cal.records;
      ctx.log(`job overhead ${cal.overheadMs} ms, warm-up ${Math.round(cal.warmupRate)} rec/s; measuring ${records} records, ${ctx.runs} run(s) per side`);

      const riffle: number[] = [];
      const fused: number[] = [];
      for (let run = 0; run < ctx.runs; run++) {
        // Alternating the sides spreads slow phases of a shared machine over both.
        const r = await timeBoundedJob(cluster, job, { parallelism: 1, records, expected });
        riffle.push(r.recordsPerSecond);
        const f = await measureFusedLoop(records);
        fused.push(f.recordsPerSecond);
        ctx.log(`run ${run + 1}: Riffle ${Math.round(r.recordsPerSecond)} rec/s (${r.runningMs} ms), fused loop ${Math.round(f.recordsPerSecond)} rec/s`);
      }
      return [
        {
          benchmark: "stateless-chain",
          metric: "throughput",
          title: "Stateless chain (datagen → map → filter → discard), p=1",
          value: median(riffle),
          unit: "rec/s",
          baseline: { name: "fused loop", value: median(fused) },
          better: "higher",
          aim: { min: 0.25 },
          parameters: { records, runs: ctx.runs, taskmanagers: 1, jobOverheadMs: cal.overheadMs },
          samples: { value: riffle, baseline: fused },
        },
      ];
    } finally {
      await cluster.stop();
    }
  },
};
