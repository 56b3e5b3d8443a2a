/**
 * Benchmark 3 — latency with buffer timeout 0 at about 10% of the maximum keyed-shuffle rate
 * (1 JobManager + 2 TaskManagers): rate-limited datagen stamping each record with its generation
 * time → keyBy across the TaskManagers → map computing the latency → collect (bench/jobs/latency.ts).
 *
 * The maximum rate is benchmark 2's Riffle throughput when it ran before in the same run, else it is
 * measured here with the keyed-shuffle job. The first second of records is dropped as warm-up.
 * Baseline, for context: the same measurement with the default buffer timeout of 100 ms. The ratios
 * (timeout 0 / timeout 100 ms) are informative, not targets.
 */
import type { Benchmark, BenchmarkContext, Measured } from "./benchmark.js";
import type { Latency } from "./jobs/latency.js";
import { calibrateKeyedShuffle, timeKeyedShuffle } from "./keyed-shuffle.js";
import { benchJob, startCluster, type TestCluster } from "./riffle.js";
import { quantile } from "./stats.js";

const WARMUP_MS = 1000;
/** Collected latencies per second: well inside what the collect path takes (see the job). */
const COLLECTED_PER_SECOND = 10_000;
const BASELINE_TIMEOUT_MS = 100;

interface LatencyRun {
  /** Latencies after the warm-up, ms, ascending. */
  sorted: number[];
  /** Records per second the job achieved: below the requested rate means it could not keep up. */
  achievedRate: number;
}

async function measureLatency(
  cluster: TestCluster,
  options: { rate: number; seconds: number; bufferTimeoutMs: number; sampleEvery: number },
): Promise<LatencyRun> {
  const count = Math.round(options.rate * (options.seconds + WARMUP_MS / 1000));
  const args = [
    "--count",
    String(count),
    "--rate",
    String(options.rate),
    "--buffer-timeout",
    String(options.bufferTimeoutMs),
    "--sample-every",
    String(options.sampleEvery),
  ];
  const jobId = await cluster.submit(benchJob("latency"), { parallelism: 2, args });
  const records = (await cluster.results(jobId, (options.seconds + 60) * 1000)) as Latency[];
  const job = await cluster.waitForStatus(jobId, "FINISHED");
  const ts = job.timestamps as Record<string, number>;
  let first = Number.POSITIVE_INFINITY;
  for (const r of records) if (r.t < first) first = r.t;
  const sorted: number[] = [];
  for (const r of records) if (r.t >= first + WARMUP_MS) sorted.push(r.ms);
  sorted.sort((a, b) => a - b);
  return { sorted, achievedRate: (count / (ts.FINISHED! - ts.RUNNING!)) * 1000 };
}

function pool(runs: number[][]): number[] {
  return runs.flat().sort((a, b) => a - b);
}

export const latency: Benchmark = {
  name: "latency",
  async run(ctx: BenchmarkContext): Promise<Measured[]> {
    const cluster = await startCluster({ taskmanagers: 2, taskmanager: { "taskmanager.slots": 1 } }, ctx.profileDir && `${ctx.profileDir}/latency`);
    try {
      let maxRate = ctx.earlier.find((r) => r.benchmark === "keyed-shuffle" && r.metric === "throughput")?.value;
      let source = "keyed-shuffle result of this run";
      if (maxRate === undefined) {
        const { records } = await calibrateKeyedShuffle(cluster, ctx.quick);
        maxRate = (await timeKeyedShuffle(cluster, records)).recordsPerSecond;
        source = "measured with the keyed-shuffle job";
      }
      const rate = Math.round(maxRate * 0.1);
      const sampleEvery = Math.max(1, Math.round(rate / COLLECTED_PER_SECOND));
      const seconds = ctx.quick ? 2 : 10;
      // Two runs per setting in turns, pooled: one run's tail moves a lot on a shared 2-core machine.
      const runs = ctx.quick ? 1 : 2;
      ctx.log(
        `max rate ${Math.round(maxRate)} rec/s (${source}); running at ${rate} rec/s for ${seconds} s (+1 s warm-up), collecting 1 in ${sampleEvery}, ${runs} run(s) per setting`,
      );

      const zeroRuns: number[][] = [];
      const hundredRuns: number[][] = [];
      const achieved: string[] = [];
      for (let run = 0; run < runs; run++) {
        for (const [timeout, into] of [
          [0, zeroRuns],
          [BASELINE_TIMEOUT_MS, hundredRuns],
        ] as const) {
          const r = await measureLatency(cluster, { rate, seconds, bufferTimeoutMs: timeout, sampleEvery });
          into.push(r.sorted);
          achieved.push(`${Math.round((r.achievedRate / rate) * 100)}%`);
          ctx.log(
            `buffer timeout ${timeout} ms: ${r.sorted.length} latencies, p50 ${quantile(r.sorted, 0.5).toFixed(2)} ms, p99 ${quantile(r.sorted, 0.99).toFixed(2)} ms, max ${quantile(r.sorted, 1).toFixed(1)} ms; achieved ${Math.round(r.achievedRate)} rec/s`,
          );
          if (r.achievedRate < rate * 0.9)
            ctx.log(`warning: the job ran below its rate (${Math.round(r.achievedRate)} of ${rate} rec/s): latencies include back-pressure`);
        }
      }
      const zero = pool(zeroRuns);
      const hundred = pool(hundredRuns);
      const parameters = {
        rate,
        maxRate: Math.round(maxRate),
        seconds: seconds * runs,
        sampleEvery,
        latencies: zero.length,
        achievedRate: achieved.join("/"),
      };
      return (
        [
          ["p50", 0.5],
          ["p99", 0.99],
          ["p99.9", 0.999],
          ["max", 1],
        ] as const
      ).map(([name, q]) => ({
        benchmark: "latency",
        metric: `latency ${name}`,
        title: `Latency ${name}, buffer timeout 0, keyed p=2 at 10% of max rate`,
        value: quantile(zero, q),
        unit: "ms",
        baseline: { name: `timeout ${BASELINE_TIMEOUT_MS} ms`, value: quantile(hundred, q) },
        better: "lower",
        parameters,
        samples: { value: zeroRuns.map((s) => quantile(s, q)), baseline: hundredRuns.map((s) => quantile(s, q)) },
      }));
    } finally {
      await cluster.stop();
    }
  },
};
