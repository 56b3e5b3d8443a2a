/**
 * Benchmark 5 — a checkpoint of 1M keys (1 JobManager + 1 TaskManager, parallelism 1), on the
 * memory and the leveldb backend: bench/jobs/keyed-state.ts with a source of exactly 1M distinct keys
 * that then stays idle without ending (`--then-idle`), each key counted once in a ValueState,
 * checkpointing every 2 s.
 *
 * Which checkpoints: the job writes the 1M keys (with checkpoints under load meanwhile, not
 * reported), and the counting task's riffle_task_numRecordsIn, read straight from the TaskManager's
 * /metrics, reaches 1M; the benchmark then takes the next `runs` checkpoints triggered after that
 * moment from GET /jobs/:id/checkpoints. Each is a full snapshot of the same 1M keys taken while the
 * job is idle. Reported per backend, medians of those checkpoints: sync_duration (aim ≤ 50 ms),
 * end_to_end_duration (aim ≤ 2 s) and state_size. (A bounded job's final checkpoint would cover all
 * keys too, but gives one checkpoint per job, and loading 1M keys into LevelDB takes many seconds.)
 *
 * Baseline for context: the same 1M entries encoded with msgpackr into one file in a plain loop and
 * fsynced, in the benchmark's process (bench/baselines/msgpackr-file.ts); its file size is the size
 * baseline.
 */
import { readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadavg } from "node:os";
import type { Benchmark, BenchmarkContext, Measured } from "./benchmark.js";
import { writeEntriesWithMsgpackr } from "./baselines/msgpackr-file.js";
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

const KEYS = 1_000_000;
const INTERVAL_MS = 2_000;

type Backend = "memory" | "leveldb";
const BACKENDS: Backend[] = ["memory", "leveldb"];

interface Run {
  /** Checkpoints triggered after every key was counted, oldest first. */
  idle: CheckpointEntry[];
  /** From RUNNING to every key counted (checkpoints under load included). */
  loadMs: number;
  /** Checkpoints completed while the keys were written. */
  underLoad: CheckpointEntry[];
  /** Bytes of the files in the newest idle checkpoint's directory (its _metadata included). */
  directoryBytes: number;
}

function directoryBytes(path: string): number {
  let bytes = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, entry.name);
    bytes += entry.isDirectory() ? directoryBytes(p) : statSync(p).size;
  }
  return bytes;
}

async function runJob(cluster: TestCluster, backend: Backend, keys: number, checkpoints: number): Promise<Run> {
  const jobId = await cluster.submit(benchJob("keyed-state"), {
    args: ["--backend", backend, "--keys", String(keys), "--count", String(keys), "--then-idle", "true", "--interval", String(INTERVAL_MS)],
  });
  try {
    const job = await pollJob(cluster, jobId, allRunning);
    const counter = job.vertices.find((v) => v.name.startsWith("count per key"));
    if (!counter) throw new Error(`no counting vertex in ${JSON.stringify(job.vertices.map((v) => v.name))}`);
    const started = performance.now();
    const deadline = started + 180_000;
    while ((await scrapeTaskMetric(cluster.taskmanagers[0]!, "numRecordsIn", counter.name)).value < keys) {
      if (performance.now() > deadline) throw new Error(`${keys} keys not counted within 180 s`);
      await sleep(20);
    }
    const loadedAt = Date.now();
    const loadMs = performance.now() - started;
    for (;;) {
      if (performance.now() > deadline + 120_000) throw new Error(`no ${checkpoints} checkpoints completed within 120 s of the load`);
      const stats = await checkpointStatistics(cluster, jobId);
      const after = stats.history.filter((c) => c.trigger_timestamp > loadedAt).reverse();
      const failed = after.find((c) => c.status === "FAILED");
      if (failed) throw new Error(`checkpoint ${failed.id} failed: ${failed.failure_message}`);
      const done = after.filter((c) => c.status === "COMPLETED");
      if (done.length >= checkpoints) {
        const underLoad = stats.history.filter((c) => c.trigger_timestamp <= loadedAt).reverse();
        const idle = done.slice(0, checkpoints);
        const newest = stats.latest.completed?.external_path;
        return { idle, loadMs, underLoad, directoryBytes: newest ? directoryBytes(newest) : Number.NaN };
      }
      await sleep(100);
    }
  } finally {
    await cancelJob(cluster, jobId);
  }
}

function describe(c: CheckpointEntry): string {
  return `#${c.id} ${c.status} sync ${c.sync_duration} ms, async ${c.async_duration} ms, alignment ${c.alignment_duration} ms, total ${c.end_to_end_duration} ms, ${c.state_size} B`;
}

export const checkpoint1mKeys: Benchmark = {
  name: "checkpoint-1m-keys",
  results: "state",
  async run(ctx: BenchmarkContext): Promise<Measured[]> {
    const keys = ctx.quick ? 100_000 : KEYS;
    const load = loadavg()[0]!;
    const dir = checkpointDir();
    const cluster = await startCluster({ taskmanagers: 1, config: { "state.checkpoints.dir": dir } }, ctx.profileDir && `${ctx.profileDir}/checkpoint-1m-keys`);
    try {
      ctx.log(`load average ${load.toFixed(2)}; ${keys} keys, then ${ctx.runs} idle checkpoint(s) per backend`);
      const runs = {} as Record<Backend, Run>;
      for (const backend of BACKENDS) {
        const r = await runJob(cluster, backend, keys, ctx.runs);
        runs[backend] = r;
        ctx.log(
          `${backend}: ${keys} keys counted ${Math.round(r.loadMs)} ms after RUNNING; checkpoints meanwhile: ${r.underLoad.map(describe).join("; ") || "none"}`,
        );
        for (const c of r.idle) ctx.log(`${backend}: idle checkpoint ${describe(c)}`);
      }
      const baseline: { ms: number; bytes: number }[] = [];
      for (let run = 0; run < ctx.runs; run++) {
        const b = writeEntriesWithMsgpackr(keys);
        baseline.push(b);
        ctx.log(`run ${run + 1}: msgpackr file ${b.ms.toFixed(1)} ms, ${b.bytes} B`);
      }
      const baseMs = baseline.map((b) => b.ms);
      const baseBytes = baseline.map((b) => b.bytes);
      const results: Measured[] = [];
      for (const backend of BACKENDS) {
        const finals = runs[backend].idle;
        const parameters = {
          backend,
          keys,
          checkpointIntervalMs: INTERVAL_MS,
          checkpoints: `${ctx.runs} taken idle after all keys were counted`,
          durationsIn: "whole ms (as the TaskManager reports them)",
          taskmanagers: 1,
          loadAvg1m: +load.toFixed(2),
          asyncMs: median(finals.map((f) => f.async_duration)),
          loadMs: Math.round(runs[backend].loadMs),
          newestCheckpointDirectoryBytes: runs[backend].directoryBytes,
        };
        const sync = finals.map((f) => f.sync_duration);
        const total = finals.map((f) => f.end_to_end_duration);
        const size = finals.map((f) => f.state_size);
        results.push(
          {
            benchmark: "checkpoint-1m-keys",
            metric: `sync ${backend}`,
            title: `Checkpoint of ${formatCount(keys)} keys, ${backend} backend: synchronous part`,
            value: median(sync),
            unit: "ms",
            baseline: { name: "msgpackr file write", value: median(baseMs) },
            better: "lower",
            aim: { max: 50 },
            parameters,
            samples: { value: sync, baseline: baseMs },
          },
          {
            benchmark: "checkpoint-1m-keys",
            metric: `total ${backend}`,
            title: `Checkpoint of ${formatCount(keys)} keys, ${backend} backend: total (end to end)`,
            value: median(total),
            unit: "ms",
            baseline: { name: "msgpackr file write", value: median(baseMs) },
            better: "lower",
            aim: { max: 2000 },
            parameters,
            samples: { value: total, baseline: baseMs },
          },
          {
            benchmark: "checkpoint-1m-keys",
            metric: `size ${backend}`,
            title: `Checkpoint of ${formatCount(keys)} keys, ${backend} backend: size on disk`,
            value: median(size),
            unit: "bytes",
            baseline: { name: "msgpackr file", value: median(baseBytes) },
            better: "lower",
            parameters,
            samples: { value: size, baseline: baseBytes },
          },
        );
      }
      return results;
    } finally {
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
