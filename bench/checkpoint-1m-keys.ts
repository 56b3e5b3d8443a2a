/**
 * Benchmark 5 — a checkpoint of 1M keys (1 JobManager + 1 TaskManager, parallelism 1), on the
 * memory and the leveldb backend: bench/jobs/keyed-state.ts with a source of exactly 1M distinct keys
 * that then stays idle without ending (`--then-idle`), each key counted once in a ValueState,
 * checkpointing every 2 s.
 *
 * Two kinds of checkpoints, from GET /jobs/:id/checkpoints (polled during the load too, since its
 * history keeps only the newest 20):
 *
 *   - under load: every checkpoint triggered while the job wrote the 1M keys, i.e. before the
 *     counting task's riffle_task_numRecordsIn (read straight from the TaskManager's /metrics)
 *     reached 1M. These capture rows as they are being written: on leveldb, the dirty rows of the
 *     write-back cache that the synchronous part has to freeze. Reported per backend: median and
 *     max of sync_duration and of end_to_end_duration over all of them (informative). A backend
 *     that writes the keys faster than one interval has none; its rows are then left out (logged,
 *     and checkpointsUnderLoad = 0 in the idle rows' parameters).
 *   - idle: the next `runs` checkpoints triggered after the keys were all counted. Each is a full
 *     snapshot of the same 1M keys taken while the job is idle; on leveldb nearly no row is dirty
 *     then, so the synchronous part has little to do. Reported per backend, medians:
 *     sync_duration (aim ≤ 50 ms), end_to_end_duration (aim ≤ 2 s) and state_size.
 *
 * (A bounded job's final checkpoint would cover all keys too, but gives one checkpoint per job, and
 * loading 1M keys into LevelDB takes many seconds.) A failed checkpoint, under load or idle, fails
 * the benchmark.
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
  /** Checkpoints triggered while the keys were written (before every key was counted), completed, oldest first. */
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
    // Every checkpoint seen, by id, newest state: the history holds only the newest 20, so it is read
    // during the load too (every 500 ms; at one trigger per 2 s none is missed).
    const seen = new Map<number, CheckpointEntry>();
    const note = (history: readonly CheckpointEntry[]) => {
      for (const c of history) seen.set(c.id, c);
    };
    let statsAt = 0;
    while ((await scrapeTaskMetric(cluster.taskmanagers[0]!, "numRecordsIn", counter.name)).value < keys) {
      if (performance.now() > deadline) throw new Error(`${keys} keys not counted within 180 s`);
      if (performance.now() - statsAt >= 500) {
        statsAt = performance.now();
        note((await checkpointStatistics(cluster, jobId)).history);
      }
      await sleep(20);
    }
    const loadedAt = Date.now();
    const loadMs = performance.now() - started;
    for (;;) {
      if (performance.now() > deadline + 120_000) throw new Error(`no ${checkpoints} checkpoints completed within 120 s of the load`);
      const stats = await checkpointStatistics(cluster, jobId);
      note(stats.history);
      const all = [...seen.values()].sort((a, b) => a.id - b.id);
      const failed = all.find((c) => c.status === "FAILED");
      if (failed) throw new Error(`checkpoint ${failed.id} (${failed.trigger_timestamp > loadedAt ? "idle" : "under load"}) failed: ${failed.failure_message}`);
      const missed = stats.counts.total - all.length;
      if (missed > 0) throw new Error(`${missed} checkpoint(s) left the history of 20 before they were read`);
      const under = all.filter((c) => c.trigger_timestamp <= loadedAt);
      const done = all.filter((c) => c.trigger_timestamp > loadedAt && c.status === "COMPLETED");
      if (done.length >= checkpoints && under.every((c) => c.status === "COMPLETED")) {
        const idle = done.slice(0, checkpoints);
        const newest = stats.latest.completed?.external_path;
        return { idle, loadMs, underLoad: under, directoryBytes: newest ? directoryBytes(newest) : Number.NaN };
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
      ctx.log(`load average ${load.toFixed(2)}; ${keys} keys (checkpoints under load meanwhile), then ${ctx.runs} idle checkpoint(s) per backend`);
      const runs = {} as Record<Backend, Run>;
      for (const backend of BACKENDS) {
        const r = await runJob(cluster, backend, keys, ctx.runs);
        runs[backend] = r;
        ctx.log(`${backend}: ${keys} keys counted ${Math.round(r.loadMs)} ms after all tasks RUNNING`);
        for (const c of r.underLoad) ctx.log(`${backend}: under-load checkpoint ${describe(c)}`);
        if (r.underLoad.length === 0) ctx.log(`${backend}: no checkpoint under load (the keys took less than the first interval): no under-load rows`);
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
        const underLoad = runs[backend].underLoad;
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
          checkpointsUnderLoad: underLoad.length,
          newestCheckpointDirectoryBytes: runs[backend].directoryBytes,
        };
        const sync = finals.map((f) => f.sync_duration);
        const total = finals.map((f) => f.end_to_end_duration);
        const size = finals.map((f) => f.state_size);
        results.push(
          {
            benchmark: "checkpoint-1m-keys",
            metric: `sync ${backend}`,
            title: `Checkpoint of ${formatCount(keys)} keys, ${backend} backend, idle (after the load): synchronous part`,
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
            title: `Checkpoint of ${formatCount(keys)} keys, ${backend} backend, idle (after the load): total (end to end)`,
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
            title: `Checkpoint of ${formatCount(keys)} keys, ${backend} backend, idle (after the load): size on disk`,
            value: median(size),
            unit: "bytes",
            baseline: { name: "msgpackr file", value: median(baseBytes) },
            better: "lower",
            parameters,
            samples: { value: size, baseline: baseBytes },
          },
        );
        if (underLoad.length > 0) {
          const loadParameters = {
            backend,
            keys,
            checkpointIntervalMs: INTERVAL_MS,
            checkpoints: `${underLoad.length} triggered while the keys were written`,
            durationsIn: "whole ms (as the TaskManager reports them)",
            taskmanagers: 1,
            loadAvg1m: +load.toFixed(2),
            loadMs: Math.round(runs[backend].loadMs),
            asyncMs: median(underLoad.map((c) => c.async_duration)),
            stateBytes: median(underLoad.map((c) => c.state_size)),
          };
          for (const [part, of] of [
            ["synchronous part", (c: CheckpointEntry) => c.sync_duration],
            ["total (end to end)", (c: CheckpointEntry) => c.end_to_end_duration],
          ] as const) {
            const values = underLoad.map(of);
            for (const [stat, value] of [
              ["median", median(values)],
              ["max", Math.max(...values)],
            ] as const) {
              results.push({
                benchmark: "checkpoint-1m-keys",
                metric: `${part === "synchronous part" ? "sync" : "total"} under load ${stat} ${backend}`,
                title: `Checkpoint while writing ${formatCount(keys)} keys, ${backend} backend, under load: ${part}, ${stat} of ${underLoad.length}`,
                value,
                unit: "ms",
                baseline: { name: "msgpackr file write", value: median(baseMs) },
                better: "lower",
                parameters: loadParameters,
                samples: { value: values, baseline: baseMs },
              });
            }
          }
        }
      }
      return results;
    } finally {
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
