/**
 * Benchmark 4 — keyed state backends (1 JobManager + 1 TaskManager of one slot, parallelism 1):
 * datagen → keyBy over 100k string keys → KeyedProcessFunction counting in a ValueState → discarding
 * sink, checkpointing every 10 s (bench/jobs/keyed-state.ts), once on the leveldb backend and once on
 * the memory backend.
 *
 * The job is unbounded: a bounded one waits for a final checkpoint (up to one interval) before it
 * finishes, which FINISHED − RUNNING would count as processing time. One job per backend: it runs
 * until its first checkpoint is triggered (one interval: JIT warm, every key in state, the LevelDB
 * cache full), then the counting task's riffle_task_numRecordsIn is read straight from the
 * TaskManager's /metrics at the start and end of consecutive windows of exactly one checkpoint
 * interval. Triggers come at a fixed rate, so each window starts with a trigger and holds one whole
 * checkpoint cycle (sync part, async write, acknowledgement) as long as a checkpoint takes less than
 * the interval. One window is one sample.
 *
 * Baseline: the same keys counted in a Map in a hand-written loop in a child process
 * (bench/baselines/keyed-count-loop.ts). Rows: leveldb / memory (aim ≥ 0.5) and memory / fused loop.
 */
import { rmSync } from "node:fs";
import { loadavg } from "node:os";
import type { Benchmark, BenchmarkContext, Measured } from "./benchmark.js";
import { measureKeyedCountLoop } from "./baselines/keyed-count-loop.js";
import { formatCount } from "./report.js";
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
const FUSED_RECORDS = 5_000_000;

type Backend = "memory" | "leveldb";

interface Window {
  recordsPerSecond: number;
  /** Checkpoints triggered within the window. */
  checkpoints: CheckpointEntry[];
}

/**
 * One job on `backend`: from its first checkpoint trigger on, `windows` consecutive windows of one
 * interval each. The job is cancelled after.
 */
async function measureWindows(cluster: TestCluster, backend: Backend, intervalMs: number, windows: number): Promise<Window[]> {
  const jobId = await cluster.submit(benchJob("keyed-state"), { args: ["--backend", backend, "--keys", String(KEYS), "--interval", String(intervalMs)] });
  try {
    const job = await pollJob(cluster, jobId, allRunning);
    const counter = job.vertices.find((v) => v.name.startsWith("count per key"));
    if (!counter) throw new Error(`no counting vertex in ${JSON.stringify(job.vertices.map((v) => v.name))}`);
    const tm = cluster.taskmanagers[0]!;
    const deadline = performance.now() + intervalMs + 30_000;
    while ((await checkpointStatistics(cluster, jobId)).counts.total === 0) {
      if (performance.now() > deadline) throw new Error(`no checkpoint triggered within ${intervalMs + 30_000} ms`);
      await sleep(20);
    }
    const rates: number[] = [];
    const spans: [number, number][] = [];
    let startedAt = Date.now();
    let first = await scrapeTaskMetric(tm, "numRecordsIn", counter.name);
    const origin = first.at;
    for (let w = 1; w <= windows; w++) {
      // Windows end on a fixed grid, so that scrape delays do not accumulate.
      await sleep(origin + w * intervalMs - performance.now());
      const last = await scrapeTaskMetric(tm, "numRecordsIn", counter.name);
      const endedAt = Date.now();
      rates.push(((last.value - first.value) / (last.at - first.at)) * 1000);
      spans.push([startedAt, endedAt]);
      first = last;
      startedAt = endedAt;
    }
    // Which checkpoints each window holds (by trigger time, with slack for the polling), once they ended.
    await sleep(Math.min(intervalMs, 2_000));
    const history = (await checkpointStatistics(cluster, jobId)).history;
    const result = rates.map((recordsPerSecond, i) => ({
      recordsPerSecond,
      checkpoints: history.filter((c) => c.trigger_timestamp >= spans[i]![0] - 200 && c.trigger_timestamp < spans[i]![1] - 200).reverse(),
    }));
    return result;
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
    const fusedRecords = ctx.quick ? 1_000_000 : FUSED_RECORDS;
    const load = loadavg()[0]!;
    const dir = checkpointDir();
    const cluster = await startCluster({ taskmanagers: 1, config: { "state.checkpoints.dir": dir } }, ctx.profileDir && `${ctx.profileDir}/state-backends`);
    try {
      ctx.log(`load average ${load.toFixed(2)}; per backend one job: first checkpoint trigger, then ${ctx.runs} window(s) of ${intervalMs} ms`);
      const windows: Record<Backend, Window[]> = { memory: [], leveldb: [] };
      for (const backend of ["memory", "leveldb"] as const) {
        windows[backend] = await measureWindows(cluster, backend, intervalMs, ctx.runs);
        windows[backend].forEach((w, i) =>
          ctx.log(`${backend} window ${i + 1}: ${Math.round(w.recordsPerSecond)} rec/s (${describeCheckpoints(w.checkpoints)})`),
        );
      }
      const rates = { memory: windows.memory.map((w) => w.recordsPerSecond), leveldb: windows.leveldb.map((w) => w.recordsPerSecond) };
      const fused: number[] = [];
      for (let run = 0; run < ctx.runs; run++) {
        const f = await measureKeyedCountLoop(fusedRecords, KEYS);
        fused.push(f.recordsPerSecond);
        ctx.log(`run ${run + 1}: fused loop ${Math.round(f.recordsPerSecond)} rec/s`);
      }
      const checkpointsPerWindow = (b: Backend) => windows[b].map((w) => w.checkpoints.filter((c) => c.status === "COMPLETED").length).join("/");
      const parameters = {
        keys: KEYS,
        checkpointIntervalMs: intervalMs,
        windows: ctx.runs,
        taskmanagers: 1,
        parallelism: 1,
        loadAvg1m: +load.toFixed(2),
        completedCheckpointsPerWindow: `memory ${checkpointsPerWindow("memory")}, leveldb ${checkpointsPerWindow("leveldb")}`,
      };
      return [
        {
          benchmark: "state-backends",
          metric: "throughput leveldb",
          title: `Keyed count in ValueState over ${formatCount(KEYS)} keys, leveldb backend, checkpoints every ${intervalMs / 1000} s, p=1`,
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
          title: `Keyed count in ValueState over ${formatCount(KEYS)} keys, memory backend, checkpoints every ${intervalMs / 1000} s, p=1`,
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
