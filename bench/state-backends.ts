/**
 * Benchmark 4 — keyed state backends (1 JobManager + 1 TaskManager of one slot, parallelism 1):
 * datagen → keyBy over K string keys → KeyedProcessFunction counting in a ValueState → discarding
 * sink, checkpointing every 10 s (bench/jobs/keyed-state.ts), once on the leveldb backend and once on
 * the memory backend, for two key counts:
 *
 *   - 100k keys: as many as the LevelDB backend's write-back cache holds (LEVELDB_DEFAULT_CACHE_MAX_ENTRIES,
 *     100k rows), so every row stays cached: the leveldb side never evicts a row nor reads LevelDB;
 *     it measures the cache and the checkpoints' writes. Aim: leveldb / memory ≥ 0.5.
 *   - 1M keys (300k in --quick): well above the cache. The keys come round in order, so nearly every
 *     access misses the cache: the leveldb side evicts rows and reads LevelDB for each record. This
 *     row shows leveldb / memory with the database really read. Informative (no aim).
 *
 * The cache size is in each row's title and parameters (cacheMaxEntries).
 *
 * The job is unbounded: a bounded one waits for a final checkpoint (up to one interval) before it
 * finishes, which FINISHED − RUNNING would count as processing time. One job per backend and key
 * count: it runs until every key has been counted once (read from the counting task's
 * riffle_task_numRecordsIn: every key is in state, the JIT is warm, the LevelDB cache full) and then
 * until the next checkpoint trigger (the first one, with 100k keys: one interval in, long after the
 * keys). From there the counting task's riffle_task_numRecordsIn is read straight from the
 * TaskManager's /metrics at the start and end of consecutive windows of exactly one checkpoint
 * interval. Triggers come at a fixed rate, so each window starts with a trigger and holds one whole
 * checkpoint cycle (sync part, async write, acknowledgement) as long as a checkpoint takes less than
 * the interval. One window is one sample.
 *
 * Baseline: the same keys counted in a Map in a hand-written loop in a child process
 * (bench/baselines/keyed-count-loop.ts). Rows: leveldb / memory at 100k keys (aim ≥ 0.5), memory /
 * fused loop at 100k keys, leveldb / memory at 1M keys (informative).
 */
import { rmSync } from "node:fs";
import { loadavg } from "node:os";
import { LEVELDB_DEFAULT_CACHE_MAX_ENTRIES } from "@riffle/taskmanager";
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

/** Keys as many as the LevelDB cache holds: the leveldb side never reads the database. */
const KEYS_IN_CACHE = LEVELDB_DEFAULT_CACHE_MAX_ENTRIES;
/** Keys well above the LevelDB cache: the leveldb side evicts and reads LevelDB. Quick mode: 300k. */
const KEYS_ABOVE_CACHE = 1_000_000;
const QUICK_KEYS_ABOVE_CACHE = 300_000;
/** Upper bound on counting every key once before the windows (1M keys read from LevelDB take tens of seconds). */
const WARMUP_TIMEOUT_MS = 240_000;
const INTERVAL_MS = 10_000;
const FUSED_RECORDS = 5_000_000;

type Backend = "memory" | "leveldb";

interface Window {
  recordsPerSecond: number;
  /** Checkpoints triggered within the window. */
  checkpoints: CheckpointEntry[];
}

/**
 * One job on `backend` over `keys` keys: once every key has been counted, from the next checkpoint
 * trigger on, `windows` consecutive windows of one interval each. The job is cancelled after.
 */
async function measureWindows(cluster: TestCluster, backend: Backend, keys: number, intervalMs: number, windows: number): Promise<Window[]> {
  const jobId = await cluster.submit(benchJob("keyed-state"), { args: ["--backend", backend, "--keys", String(keys), "--interval", String(intervalMs)] });
  try {
    const job = await pollJob(cluster, jobId, allRunning);
    const counter = job.vertices.find((v) => v.name.startsWith("count per key"));
    if (!counter) throw new Error(`no counting vertex in ${JSON.stringify(job.vertices.map((v) => v.name))}`);
    const tm = cluster.taskmanagers[0]!;
    const deadline = performance.now() + intervalMs + WARMUP_TIMEOUT_MS;
    // Every key counted once: the checkpoints read so far, taken before the scrape that saw it.
    let triggeredBefore = -1;
    while (triggeredBefore < 0) {
      if (performance.now() > deadline) throw new Error(`${keys} keys not counted within ${intervalMs + WARMUP_TIMEOUT_MS} ms`);
      const total = (await checkpointStatistics(cluster, jobId)).counts.total;
      if ((await scrapeTaskMetric(tm, "numRecordsIn", counter.name)).value >= keys) triggeredBefore = total;
      else await sleep(50);
    }
    // Then the next trigger: each window starts with one.
    while ((await checkpointStatistics(cluster, jobId)).counts.total <= triggeredBefore) {
      if (performance.now() > deadline) throw new Error(`no checkpoint triggered within ${intervalMs + WARMUP_TIMEOUT_MS} ms`);
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

/** Both backends over `keys` keys: their windows, logged as they come. */
async function measureBoth(ctx: BenchmarkContext, cluster: TestCluster, keys: number, intervalMs: number): Promise<Record<Backend, Window[]>> {
  const windows: Record<Backend, Window[]> = { memory: [], leveldb: [] };
  for (const backend of ["memory", "leveldb"] as const) {
    windows[backend] = await measureWindows(cluster, backend, keys, intervalMs, ctx.runs);
    windows[backend].forEach((w, i) =>
      ctx.log(`${formatCount(keys)} keys, ${backend} window ${i + 1}: ${Math.round(w.recordsPerSecond)} rec/s (${describeCheckpoints(w.checkpoints)})`),
    );
  }
  return windows;
}

/** How the key count compares with the LevelDB cache, for titles. */
function cacheNote(keys: number): string {
  const cache = formatCount(LEVELDB_DEFAULT_CACHE_MAX_ENTRIES);
  return keys <= LEVELDB_DEFAULT_CACHE_MAX_ENTRIES ? `cache ${cache} rows ≥ keys, LevelDB never read` : `cache ${cache} rows < keys, LevelDB read`;
}

export const stateBackends: Benchmark = {
  name: "state-backends",
  results: "state",
  async run(ctx: BenchmarkContext): Promise<Measured[]> {
    const intervalMs = ctx.quick ? 2_000 : INTERVAL_MS;
    const fusedRecords = ctx.quick ? 1_000_000 : FUSED_RECORDS;
    const keysAbove = ctx.quick ? QUICK_KEYS_ABOVE_CACHE : KEYS_ABOVE_CACHE;
    const load = loadavg()[0]!;
    const dir = checkpointDir();
    const cluster = await startCluster({ taskmanagers: 1, config: { "state.checkpoints.dir": dir } }, ctx.profileDir && `${ctx.profileDir}/state-backends`);
    try {
      ctx.log(
        `load average ${load.toFixed(2)}; LevelDB write-back cache ${LEVELDB_DEFAULT_CACHE_MAX_ENTRIES} rows; ${KEYS_IN_CACHE} and ${keysAbove} keys; per backend and key count one job: every key counted, the next checkpoint trigger, then ${ctx.runs} window(s) of ${intervalMs} ms`,
      );
      const inCache = await measureBoth(ctx, cluster, KEYS_IN_CACHE, intervalMs);
      const aboveCache = await measureBoth(ctx, cluster, keysAbove, intervalMs);
      const fused: number[] = [];
      for (let run = 0; run < ctx.runs; run++) {
        const f = await measureKeyedCountLoop(fusedRecords, KEYS_IN_CACHE);
        fused.push(f.recordsPerSecond);
        ctx.log(`run ${run + 1}: fused loop ${Math.round(f.recordsPerSecond)} rec/s`);
      }
      const rates = (windows: Record<Backend, Window[]>, b: Backend) => windows[b].map((w) => w.recordsPerSecond);
      const checkpointsPerWindow = (windows: Record<Backend, Window[]>) => {
        const per = (b: Backend) => windows[b].map((w) => w.checkpoints.filter((c) => c.status === "COMPLETED").length).join("/");
        return `memory ${per("memory")}, leveldb ${per("leveldb")}`;
      };
      const parameters = (keys: number, windows: Record<Backend, Window[]>) => ({
        keys,
        cacheMaxEntries: LEVELDB_DEFAULT_CACHE_MAX_ENTRIES,
        checkpointIntervalMs: intervalMs,
        windows: ctx.runs,
        taskmanagers: 1,
        parallelism: 1,
        loadAvg1m: +load.toFixed(2),
        completedCheckpointsPerWindow: checkpointsPerWindow(windows),
      });
      const title = (keys: number, backend: Backend) =>
        `Keyed count in ValueState over ${formatCount(keys)} keys, ${backend} backend${backend === "leveldb" ? ` (${cacheNote(keys)})` : ""}, checkpoints every ${intervalMs / 1000} s, p=1`;
      return [
        {
          benchmark: "state-backends",
          metric: "throughput leveldb",
          title: title(KEYS_IN_CACHE, "leveldb"),
          value: median(rates(inCache, "leveldb")),
          unit: "rec/s",
          baseline: { name: "memory backend", value: median(rates(inCache, "memory")) },
          better: "higher",
          aim: { min: 0.5 },
          parameters: parameters(KEYS_IN_CACHE, inCache),
          samples: { value: rates(inCache, "leveldb"), baseline: rates(inCache, "memory") },
        },
        {
          benchmark: "state-backends",
          metric: "throughput memory",
          title: title(KEYS_IN_CACHE, "memory"),
          value: median(rates(inCache, "memory")),
          unit: "rec/s",
          baseline: { name: "fused loop (Map)", value: median(fused) },
          better: "higher",
          parameters: { ...parameters(KEYS_IN_CACHE, inCache), fusedRecords },
          samples: { value: rates(inCache, "memory"), baseline: fused },
        },
        {
          benchmark: "state-backends",
          metric: "throughput leveldb above cache",
          title: title(keysAbove, "leveldb"),
          value: median(rates(aboveCache, "leveldb")),
          unit: "rec/s",
          baseline: { name: "memory backend", value: median(rates(aboveCache, "memory")) },
          better: "higher",
          parameters: parameters(keysAbove, aboveCache),
          samples: { value: rates(aboveCache, "leveldb"), baseline: rates(aboveCache, "memory") },
        },
      ];
    } finally {
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
