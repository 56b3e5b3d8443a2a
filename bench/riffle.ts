/**
 * Riffle's side of the benchmarks: real clusters started through the e2e harness (the `riffle` CLI on
 * free ports, exactly as users start them) and jobs timed by the JobManager's own status timestamps.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TestCluster, metricValue, type ClusterOptions, type JobDetails, type RiffleProcess } from "../e2e/harness/index.js";
import { roundCount } from "./stats.js";

export { TestCluster, metricValue };

/** A job file under bench/jobs/. */
export function benchJob(name: string): string {
  return fileURLToPath(new URL(`./jobs/${name}.ts`, import.meta.url));
}

/**
 * Starts a cluster. With `profileDir`, every cluster process writes a V8 CPU profile there when it
 * exits (bench/profile-hook.cjs; the environment is read at spawn, so it is set only meanwhile).
 */
export async function startCluster(options: ClusterOptions, profileDir?: string): Promise<TestCluster> {
  if (!profileDir) return TestCluster.start(options);
  mkdirSync(profileDir, { recursive: true });
  const saved = { NODE_OPTIONS: process.env.NODE_OPTIONS, RIFFLE_BENCH_PROFILE_DIR: process.env.RIFFLE_BENCH_PROFILE_DIR };
  process.env.NODE_OPTIONS = `${saved.NODE_OPTIONS ?? ""} --require ${fileURLToPath(new URL("./profile-hook.cjs", import.meta.url))}`.trim();
  process.env.RIFFLE_BENCH_PROFILE_DIR = profileDir;
  try {
    return await TestCluster.start(options);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

export interface JobTiming {
  jobId: string;
  records: number;
  /** FINISHED − RUNNING of the job record: deployment, processing and the end-of-input drain. */
  runningMs: number;
  recordsPerSecond: number;
  job: JobDetails;
}

/** What a timed job must have processed: checked after FINISHED, a mismatch fails the benchmark. */
export interface ExpectedRecords {
  /** Writes its discarding sink must count over all subtasks (bench/jobs/records.ts, CountingDiscardSink). */
  sinkWrites: number;
  /**
   * Records that vertices (by name prefix) must have read from their network inputs, summed over their
   * subtasks, as GET /jobs/:id reports them after FINISHED (the final per-task counts). Chained
   * operators read no network input: only for a vertex behind a network edge.
   */
  vertexRecordsIn?: Record<string, number>;
}

/**
 * Checks that a FINISHED job processed what it was timed for: no restart (a restart replays records
 * from a checkpoint or from the start), its sink's writes (from the files of CountingDiscardSink in
 * `countsDir`) and the records in of the vertices named in `expected`. Throws on any mismatch.
 */
export function checkProcessed(job: JobDetails, countsDir: string, parallelism: number, expected: ExpectedRecords): void {
  const what = `job ${job.jid} (${job.name})`;
  if (Number(job.numRestarts) > 0) throw new Error(`${what} restarted ${job.numRestarts} time(s): its timing and counts mean nothing`);
  const files = readdirSync(countsDir).filter((f) => f.startsWith("sink-"));
  if (files.length !== parallelism)
    throw new Error(`${what}: ${files.length} sink count file(s) in ${countsDir}, expected one per sink subtask (${parallelism})`);
  const writes = files.reduce((n, f) => n + (JSON.parse(readFileSync(join(countsDir, f), "utf8")) as { writes: number }).writes, 0);
  if (writes !== expected.sinkWrites) throw new Error(`${what}: its sink got ${writes} records, expected ${expected.sinkWrites}`);
  for (const [prefix, n] of Object.entries(expected.vertexRecordsIn ?? {})) {
    const vertex = job.vertices.find((v) => v.name.startsWith(prefix));
    if (!vertex) throw new Error(`${what} has no vertex named ${prefix}…: ${JSON.stringify(job.vertices.map((v) => v.name))}`);
    if (vertex.metrics["read-records"] !== n) throw new Error(`${what}: vertex "${vertex.name}" read ${vertex.metrics["read-records"]} records, expected ${n}`);
  }
}

/**
 * Submits a bounded job of `records` records and waits for it to finish. RUNNING is set when the
 * JobManager starts deploying, so the time includes deployment (tens of ms); runs are sized to last
 * seconds so that this stays small. The job must end in a CountingDiscardSink of `--sink-counts`
 * (bench/jobs/records.ts) at the job's parallelism: after FINISHED, checkProcessed compares what the
 * job processed with `expected(records)` and throws on a mismatch, so a rate is never computed from a
 * job that dropped or replayed records.
 */
export async function timeBoundedJob(
  cluster: TestCluster,
  jobFile: string,
  options: { parallelism: number; records: number; expected: (records: number) => ExpectedRecords; args?: string[]; timeoutMs?: number },
): Promise<JobTiming> {
  const countsDir = mkdtempSync(join(tmpdir(), "riffle-bench-sink-counts-"));
  try {
    const args = ["--count", String(options.records), "--sink-counts", countsDir, ...(options.args ?? [])];
    const jobId = await cluster.submit(jobFile, { parallelism: options.parallelism, args });
    // The rate comes from the job's own timestamps, so the poll only needs to notice the end: a poll
    // every 50 ms cost the JobManager ~40 ms of CPU per second of the run (job-details views), CPU the
    // measured job runs short of on two cores.
    const job = await cluster.waitForStatus(jobId, "FINISHED", options.timeoutMs ?? 120_000, 250);
    const ts = job.timestamps as Record<string, number> | undefined;
    const running = ts?.RUNNING;
    const finished = ts?.FINISHED;
    if (!running || !finished) throw new Error(`job ${jobId} has no RUNNING/FINISHED timestamps: ${JSON.stringify(ts)}`);
    checkProcessed(job, countsDir, options.parallelism, options.expected(options.records));
    const runningMs = Math.max(1, finished - running);
    return { jobId, records: options.records, runningMs, recordsPerSecond: (options.records / runningMs) * 1000, job };
  } finally {
    rmSync(countsDir, { recursive: true, force: true });
  }
}

export interface Calibration {
  /** FINISHED − RUNNING of a job of a handful of records: deployment and teardown. */
  overheadMs: number;
  /** Rate of the (last) warm-up job with the overhead taken out. */
  warmupRate: number;
  /** How long each warm-up job ran (FINISHED − RUNNING), in order. */
  warmupMs: number[];
  /** Records for a run of about `targetSeconds`. */
  records: number;
}

/** With `untilSteady`: warm-up jobs until two in a row took within this fraction of each other's time... */
const STEADY_TOLERANCE = 0.05;
/** ...at least this many... */
const MIN_WARMUP_JOBS = 3;
/** ...and at most this many. */
const MAX_WARMUP_JOBS = 16;

/**
 * Warms the cluster up and sizes the measured runs. A short warm-up job's rate is dominated by its
 * fixed deployment cost, so that cost is measured on a tiny job and subtracted.
 *
 * `untilSteady`: warm-up jobs run until two in a row take the same time within 5% (at least three,
 * at most sixteen), and the tiny job is timed again after them (warm).
 * A fresh TaskManager runs its first jobs slower while V8 settles the slot's code: on the keyed
 * shuffle, the second job of a fresh cluster measured ~190–210 ns of worker CPU per record, the
 * fourth and later ~150–160 (bench/dev/keyed-shuffle-threads.ts); since decision 0020 (which lets
 * V8 inline more, so its optimized functions are larger and settle later) some clusters of two
 * TaskManagers took ten jobs or more to reach their steady rate. A benchmark of throughput measures
 * the steady state. Without it, one warm-up job after the tiny one.
 */
export async function calibrate(
  run: (records: number) => Promise<JobTiming>,
  options: { warmupRecords: number; targetSeconds: number; untilSteady?: boolean },
): Promise<Calibration> {
  let overheadMs = (await run(1000)).runningMs;
  const warmupMs = [(await run(options.warmupRecords)).runningMs];
  if (options.untilSteady) {
    const steady = () => {
      const n = warmupMs.length;
      return n >= MIN_WARMUP_JOBS && Math.abs(warmupMs[n - 1]! - warmupMs[n - 2]!) <= STEADY_TOLERANCE * warmupMs[n - 2]!;
    };
    while (!steady() && warmupMs.length < MAX_WARMUP_JOBS) warmupMs.push((await run(options.warmupRecords)).runningMs);
    overheadMs = (await run(1000)).runningMs;
  }
  const last = warmupMs[warmupMs.length - 1]!;
  const processingMs = Math.max(last - overheadMs, last / 4);
  const warmupRate = (options.warmupRecords / processingMs) * 1000;
  return { overheadMs, warmupRate, warmupMs, records: roundCount(warmupRate * options.targetSeconds) };
}

/** One checkpoint in GET /jobs/:id/checkpoints (Flink's shape: snake_case, ms and bytes). */
export interface CheckpointEntry {
  id: number;
  status: "IN_PROGRESS" | "COMPLETED" | "FAILED";
  trigger_timestamp: number;
  latest_ack_timestamp: number;
  state_size: number;
  end_to_end_duration: number;
  alignment_duration: number;
  sync_duration: number;
  async_duration: number;
  external_path: string | null;
  failure_message: string | null;
}

export interface CheckpointStatistics {
  counts: { restored: number; total: number; in_progress: number; completed: number; failed: number };
  latest: { completed: CheckpointEntry | null; failed: CheckpointEntry | null; restored: { id: number; restore_timestamp: number } | null };
  /** Newest first. */
  history: CheckpointEntry[];
}

export async function checkpointStatistics(cluster: TestCluster, jobId: string): Promise<CheckpointStatistics> {
  const res = await cluster.rest<CheckpointStatistics>("GET", `/jobs/${jobId}/checkpoints`);
  if (res.status !== 200) throw new Error(`GET /jobs/${jobId}/checkpoints gave ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Cancels a job and waits until it is CANCELED. */
export async function cancelJob(cluster: TestCluster, jobId: string): Promise<void> {
  const res = await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`);
  if (res.status >= 300) throw new Error(`cancel of ${jobId} gave ${res.status}: ${JSON.stringify(res.body)}`);
  await cluster.waitForStatus(jobId, "CANCELED", 30_000);
}

/**
 * A task gauge (riffle_task_<name>) of one task, read straight from the TaskManager's Prometheus
 * endpoint: the value at the moment of the scrape, not as of the last heartbeat. `at` is the middle
 * of the request.
 */
export async function scrapeTaskMetric(tm: RiffleProcess, metric: string, taskName: string): Promise<{ value: number; at: number }> {
  const started = await tm.waitForLog((l) => l.msg === "TaskManager started");
  const t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${started.metricsPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  const at = (t0 + performance.now()) / 2;
  const value = metricValue(text, `riffle_task_${metric}`, { task_name: taskName });
  if (value === undefined) throw new Error(`${tm.name} has no riffle_task_${metric}{task_name="${taskName}"}`);
  return { value, at };
}

/** The job and every vertex RUNNING (the job record turns RUNNING when deployment starts). */
export function allRunning(job: JobDetails): boolean {
  return job.state === "RUNNING" && job.vertices.length > 0 && job.vertices.every((v) => v.status === "RUNNING");
}

/** Polls GET /jobs/:id every `everyMs` until `predicate` holds; fails on a terminal status or after `timeoutMs`. */
export async function pollJob(
  cluster: TestCluster,
  jobId: string,
  predicate: (job: JobDetails) => boolean,
  options: { everyMs?: number; timeoutMs?: number } = {},
): Promise<JobDetails> {
  const deadline = performance.now() + (options.timeoutMs ?? 30_000);
  let last: JobDetails | undefined;
  while (performance.now() < deadline) {
    last = await cluster.job(jobId);
    if (predicate(last)) return last;
    if (["FINISHED", "FAILED", "CANCELED"].includes(last.state)) break;
    await new Promise((r) => setTimeout(r, options.everyMs ?? 50));
  }
  throw new Error(`condition on job ${jobId} not met; last: ${JSON.stringify(last)}\n${cluster.jobmanager.tail()}`);
}

/** A checkpoint directory of its own for a cluster (state.checkpoints.dir defaults to one under the repository). */
export function checkpointDir(): string {
  return mkdtempSync(join(tmpdir(), "riffle-bench-checkpoints-"));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
