/**
 * Benchmark 2 — keyed shuffle across two TaskManager processes (1 JobManager + 2 TaskManagers of one
 * slot each): datagen (p=2) → keyBy over 10k string keys → rolling count per key → discarding sink
 * (bench/jobs/keyed-shuffle.ts). Subtask i of both vertices shares slot i, so the hash edge crosses
 * processes for the records whose key belongs to the other subtask: about half.
 *
 * Riffle: N / (FINISHED − RUNNING), after checking that "count per key" read N records and the sink
 * got N (bench/riffle.ts, timeBoundedJob: a mismatch fails the benchmark). Baseline: the same records, codec and ~32 KiB batches streamed
 * over one raw gRPC stream between two processes and counted per key in a Map
 * (bench/baselines/raw-grpc.ts). Both use both cores. The aim is ≥ 0.6.
 */
import { murmur3Key, operatorIndexForKeyGroup } from "@riffle/shared";
import type { Benchmark, BenchmarkContext, Measured } from "./benchmark.js";
import { measureRawGrpc } from "./baselines/raw-grpc.js";
import { KEYS, keyed } from "./jobs/records.js";
import { benchJob, calibrate, startCluster, timeBoundedJob, type Calibration, type JobTiming, type TestCluster } from "./riffle.js";
import { median } from "./stats.js";

const TARGET_SECONDS = 3.5;
/** Records of each warm-up job (see calibrate's untilSteady). */
const warmupRecords = (quick: boolean): number => (quick ? 200_000 : 4_000_000);
const PARALLELISM = 2;

/** Share of records whose key is owned by another subtask than the one that generated the record. */
function crossingShare(maxParallelism: number): number {
  let crossing = 0;
  // Record i comes from source subtask i % 2 and has key i % KEYS: the pattern repeats every KEYS records.
  for (let i = 0; i < KEYS; i++) {
    const owner = operatorIndexForKeyGroup(murmur3Key(keyed(i).key) % maxParallelism, PARALLELISM, maxParallelism);
    if (owner !== i % PARALLELISM) crossing++;
  }
  return crossing / KEYS;
}

/**
 * Checks that subtask i of every vertex ran on the same TaskManager, and the two subtasks on different
 * ones (`spread`) or on the same one (its two slots).
 */
async function checkPlacement(cluster: TestCluster, run: JobTiming, spread: boolean): Promise<void> {
  const vertices = await Promise.all(run.job.vertices.map((v) => cluster.vertex(run.jobId, v.id)));
  const placement = vertices.map((v) => v.subtasks.map((s) => s["taskmanager-id"]));
  const [source, counter] = placement;
  const ok = source && counter && source.length === 2 && (source[0] !== source[1]) === spread && source.every((tm, i) => tm === counter[i]);
  if (!ok) throw new Error(`expected subtask i of both vertices on ${spread ? "TaskManager i of two" : "one TaskManager"}; got ${JSON.stringify(placement)}`);
}

export async function timeKeyedShuffle(cluster: TestCluster, records: number, spread = true): Promise<JobTiming> {
  // Every record crosses the hash edge into "count per key" and comes out of the rolling sum into
  // the sink: both counts must be exactly `records` (checked after FINISHED; a mismatch throws).
  const run = await timeBoundedJob(cluster, benchJob("keyed-shuffle"), {
    parallelism: PARALLELISM,
    records,
    expected: (n) => ({ sinkWrites: n, vertexRecordsIn: { "count per key": n } }),
  });
  await checkPlacement(cluster, run, spread);
  return run;
}

/** Warm-up jobs until the cluster runs them at a steady pace, then a count sized to run about TARGET_SECONDS. */
export async function calibrateKeyedShuffle(cluster: TestCluster, quick: boolean, spread = true): Promise<Calibration> {
  const cal = await calibrate((records) => timeKeyedShuffle(cluster, records, spread), {
    warmupRecords: warmupRecords(quick),
    targetSeconds: TARGET_SECONDS,
    untilSteady: !quick,
  });
  return quick ? { ...cal, records: 1_000_000 } : cal;
}

export const keyedShuffle: Benchmark = {
  name: "keyed-shuffle",
  async run(ctx: BenchmarkContext): Promise<Measured[]> {
    const cluster = await startCluster({ taskmanagers: 2, taskmanager: { "taskmanager.slots": 1 } }, ctx.profileDir && `${ctx.profileDir}/keyed-shuffle`);
    try {
      const cal = await calibrateKeyedShuffle(cluster, ctx.quick);
      const records = cal.records;
      ctx.log(
        `job overhead ${cal.overheadMs} ms, warm-up jobs of ${warmupRecords(ctx.quick) / 1e6}M records in ${cal.warmupMs.join(", ")} ms (${Math.round(cal.warmupRate)} rec/s); measuring ${records} records, ${ctx.runs} run(s) per side`,
      );
      const riffle: number[] = [];
      const raw: number[] = [];
      let maxParallelism = 128;
      for (let run = 0; run < ctx.runs; run++) {
        const r = await timeKeyedShuffle(cluster, records);
        maxParallelism = Number(r.job.maxParallelism);
        riffle.push(r.recordsPerSecond);
        const g = await measureRawGrpc(records, ctx.quick ? 200_000 : 1_000_000);
        raw.push(g.recordsPerSecond);
        ctx.log(
          `run ${run + 1}: Riffle ${Math.round(r.recordsPerSecond)} rec/s (${r.runningMs} ms), raw gRPC ${Math.round(g.recordsPerSecond)} rec/s (${g.batches} batches of ${Math.round(g.bytes / g.batches)} B)`,
        );
      }
      // The same job on one TaskManager with two slots (two worker threads), against the two processes.
      const slotted: number[] = [];
      const single = await startCluster(
        { taskmanagers: 1, taskmanager: { "taskmanager.slots": 2 } },
        ctx.profileDir && `${ctx.profileDir}/keyed-shuffle-slots`,
      );
      try {
        const warm = await calibrateKeyedShuffle(single, ctx.quick, false);
        ctx.log(`1 TaskManager × 2 slots: warm-up jobs in ${warm.warmupMs.join(", ")} ms`);
        for (let run = 0; run < ctx.runs; run++) {
          const r = await timeKeyedShuffle(single, records, false);
          slotted.push(r.recordsPerSecond);
          ctx.log(`run ${run + 1}: 1 TaskManager × 2 slots ${Math.round(r.recordsPerSecond)} rec/s (${r.runningMs} ms)`);
        }
      } finally {
        await single.stop();
      }
      return [
        {
          benchmark: "keyed-shuffle",
          metric: "throughput, 1 TaskManager × 2 slots",
          title: "Keyed shuffle, p=2 on 1 TaskManager with 2 slots (2 worker threads), against 2 TaskManagers with 1 slot",
          value: median(slotted),
          unit: "rec/s",
          baseline: { name: "2 TaskManagers × 1 slot", value: median(riffle) },
          better: "higher",
          parameters: { records, keys: KEYS, runs: ctx.runs, taskmanagers: 1, slots: 2 },
          samples: { value: slotted, baseline: riffle },
        },
        {
          benchmark: "keyed-shuffle",
          metric: "throughput",
          title: "Keyed shuffle (datagen → keyBy → count per key → discard), p=2 on 2 TaskManagers",
          value: median(riffle),
          unit: "rec/s",
          baseline: { name: "raw gRPC stream", value: median(raw) },
          better: "higher",
          aim: { min: 0.6 },
          parameters: {
            records,
            keys: KEYS,
            runs: ctx.runs,
            taskmanagers: 2,
            jobOverheadMs: cal.overheadMs,
            crossingProcesses: `${(crossingShare(maxParallelism) * 100).toFixed(1)}%`,
          },
          samples: { value: riffle, baseline: raw },
        },
      ];
    } finally {
      await cluster.stop();
    }
  },
};
