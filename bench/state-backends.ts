/**
 * Benchmark 4 — keyed state backends (1 JobManager + 1 TaskManager of one slot, parallelism 1):
 * datagen → keyBy over 100k string keys → KeyedProcessFunction counting in a ValueState → discarding
 * sink, checkpointing every 10 s (bench/jobs/keyed-state.ts), once on the leveldb backend and once on
 * the memory backend.
 *
 * The job is unbounded: a bounded one waits for a final checkpoint (up to one interval) before it
 * finishes, which FINISHED − RUNNING would count as processing time. Each run submits the job, lets
 * it warm up (JIT, LevelDB cache filled with every key), then reads the counting task's
 * riffle_task_numRecordsIn straight from the TaskManager's /metrics at the start and the end of a
 * window of exactly one checkpoint interval, so every window holds exactly one checkpoint; the rate
 * is the difference over the window. The backends alternate within each run.
 *
 * Baseline: the same keys counted in a Map in a hand-written loop in a child process
 * (bench/baselines/keyed-count-loop.ts). Rows: leveldb / memory (aim ≥ 0.5) and memory / fused loop.
 */
import { rmSync } from "node:fs";
import { loadavg } from "node:os";
import type { Benchmark, BenchmarkContext, Measured } from "./benchmark.js";
import { measureKeyedCountLoop } from "./baselines/keyed-count-loop.js";
import {
  allRunning,
  benchJob,
  cancelJob,
  checkpointDir,
  checkpointStatistics,
  pollJob,
  scrapeTaskMetric,
  sleep,
  startCluster,
  type CheckpointEntry,
  type TestCluster,
} from "./riffle.js";
import { median } from "./stats.js";

const KEYS = 100_000;
const INTERVAL_MS = 10_000;
/** JIT warm-up, and every key read once (the LevelDB cache holds 100k rows by default). */
const WARMUP_MS = 2_500;
const FUSED_RECORDS = 5_000_000;

type Backend = "memory" | "leveldb";

interface Window {
  recordsPerSecond: number;
  /** Checkpoints triggered within the window. */
  checkpoints: CheckpointEntry[];
}

/** One job on `backend`: warm-up, then one window of `windowMs`; the job is cancelled after. */
async function measureWindow(cluster: TestCluster, backend: Backend, intervalMs: number, windowMs: number, warmupMs: number): Promise<Window> {
  const jobId = await cluster.submit(benchJob("keyed-state"), { args: ["--backend", backend, "--keys", String(KEYS), "--interval", String(intervalMs)] });
  try {
    const job = await pollJob(cluster, jobId, allRunning);
    const counter = job.vertices.find((v) => v.name.startsWith("count per key"));
    if (!counter) throw new Error(`no counting vertex in ${JSON.stringify(job.vertices.map((v) => v.name))}`);
    const tm = cluster.taskmanagers[0]!;
    await sleep(warmupMs);
    const startedAt = Date.now();
    const first = await scrapeTaskMetric(tm, "numRecordsIn", counter.name);
    await sleep(windowMs - (performance.now() - first.at));
    const last = await scrapeTaskMetric(tm, "numRecordsIn", counter.name);
    const endedAt = Date.now();
    const stats = await checkpointStatistics(cluster, jobId);
    const checkpoints = stats.history.filter((c) => c.trigger_timestamp >= startedAt && c.trigger_timestamp <= endedAt);
    return { recordsPerSecond: ((last.value - first.value) / (last.at - first.at)) * 1000, checkpoints };
  } finally {
    await cancelJob(cluster, jobId);
  }
}

function describeCheckpoints(checkpoints: readonly CheckpointEntry[]): string {
  if (checkpoints.length === 0) return "no checkpoint in the window";
  return checkpoints
    .map((c) => `#${c.id} ${c.status} sync ${c.sync_duration} ms, async ${c.async_duration} ms, total ${c.end_to_end_duration} ms, ${c.state_size} B`)
    .join("; ");
}

export const stateBackends: Benchmark = {
  name: "state-backends",
  results: "state",
  async run(ctx: BenchmarkContext): Promise<Measured[]> {
    const intervalMs = ctx.quick ? 2_000 : INTERVAL_MS;
    const warmupMs = ctx.quick ? 1_000 : WARMUP_MS;
    const fusedRecords = ctx.quick ? 1_000_000 : FUSED_RECORDS;
    const load = loadavg()[0]!;
    const dir = checkpointDir();
    const cluster = await startCluster(
      { taskmanagers: 1, config: { "state.checkpoints.dir": dir } },
      ctx.profileDir && `${ctx.profileDir}/state-backends`,
    );
    try {
      ctx.log(`load average ${load.toFixed(2)}; ${ctx.runs} run(s) of ${warmupMs} ms warm-up + a ${intervalMs} ms window per backend`);
      const rates: Record<Backend, number[]> = { memory: [], leveldb: [] };
      const fused: number[] = [];
      const windows: Record<Backend, Window[]> = { memory: [], leveldb: [] };
      for (let run = 0; run < ctx.runs; run++) {
        // Alternating the order spreads slow phases of a shared machine over both backends.
        const order: Backend[] = run % 2 === 0 ? ["memory", "leveldb"] : ["leveldb", "memory"];
        for (const backend of order) {
          const w = await measureWindow(cluster, backend, intervalMs, intervalMs, warmupMs);
          rates[backend].push(w.recordsPerSecond);
          windows[backend].push(w);
          ctx.log(`run ${run + 1}: ${backend} ${Math.round(w.recordsPerSecond)} rec/s (${describeCheckpoints(w.checkpoints)})`);
        }
        const f = await measureKeyedCountLoop(fusedRecords, KEYS);
        fused.push(f.recordsPerSecond);
        ctx.log(`run ${run + 1}: fused loop ${Math.round(f.recordsPerSecond)} rec/s`);
      }
      const checkpointsPerWindow = (b: Backend) => windows[b].map((w) => w.checkpoints.filter((c) => c.status === "COMPLETED").length).join("/");
      const parameters = {
        keys: KEYS,
        checkpointIntervalMs: intervalMs,
        windowMs: intervalMs,
        runs: ctx.runs,
        taskmanagers: 1,
        parallelism: 1,
        loadAvg1m: +load.toFixed(2),
        completedCheckpointsPerWindow: `memory ${checkpointsPerWindow("memory")}, leveldb ${checkpointsPerWindow("leveldb")}`,
      };
      return [
        {
          benchmark: "state-backends",
          metric: "throughput leveldb",
          title: "Keyed count in ValueState, leveldb backend, checkpoints every 10 s, p=1",
          value: median(rates.leveldb),
          unit: "rec/s",
          baseline: { name: "memory backend", value: median(rates.memory) },
          better: "higher",
          aim: { min: 0.5 },
          parameters,
          samples: { value: rates.leveldb, baseline: rates.memory },
        },
        {
          benchmark: "state-backends",
          metric: "throughput memory",
          title: "Keyed count in ValueState, memory backend, checkpoints every 10 s, p=1",
          value: median(rates.memory),
          unit: "rec/s",
          baseline: { name: "fused loop (Map)", value: median(fused) },
          better: "higher",
          parameters: { ...parameters, fusedRecords },
          samples: { value: rates.memory, baseline: fused },
        },
      ];
    } finally {
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
