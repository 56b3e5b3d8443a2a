/**
 * Riffle's side of the benchmarks: real clusters started through the e2e harness (the `riffle` CLI on
 * free ports, exactly as users start them) and jobs timed by the JobManager's own status timestamps.
 */
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { TestCluster, type ClusterOptions, type JobDetails } from "../e2e/harness/index.js";
import { roundCount } from "./stats.js";

export { TestCluster };

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

/**
 * Submits a bounded job of `records` records and waits for it to finish. RUNNING is set when the
 * JobManager starts deploying, so the time includes deployment (tens of ms); runs are sized to last
 * seconds so that this stays small.
 */
export async function timeBoundedJob(
  cluster: TestCluster,
  jobFile: string,
  options: { parallelism: number; records: number; args?: string[]; timeoutMs?: number },
): Promise<JobTiming> {
  const jobId = await cluster.submit(jobFile, { parallelism: options.parallelism, args: ["--count", String(options.records), ...(options.args ?? [])] });
  const job = await cluster.waitForStatus(jobId, "FINISHED", options.timeoutMs ?? 120_000);
  const ts = job.statusTimestamps as Record<string, number> | undefined;
  const running = ts?.RUNNING;
  const finished = ts?.FINISHED;
  if (running === undefined || finished === undefined) throw new Error(`job ${jobId} has no RUNNING/FINISHED timestamps: ${JSON.stringify(ts)}`);
  const runningMs = Math.max(1, finished - running);
  return { jobId, records: options.records, runningMs, recordsPerSecond: (options.records / runningMs) * 1000, job };
}

export interface Calibration {
  /** FINISHED − RUNNING of a job of a handful of records: deployment and teardown. */
  overheadMs: number;
  /** Rate of the warm-up job with the overhead taken out. */
  warmupRate: number;
  /** Records for a run of about `targetSeconds`. */
  records: number;
}

/**
 * Warms the cluster up and sizes the measured runs. A short warm-up job's rate is dominated by its
 * fixed deployment cost, so that cost is measured on a tiny job first and subtracted.
 */
export async function calibrate(run: (records: number) => Promise<JobTiming>, options: { warmupRecords: number; targetSeconds: number }): Promise<Calibration> {
  const overheadMs = (await run(1000)).runningMs;
  const warmup = await run(options.warmupRecords);
  const processingMs = Math.max(warmup.runningMs - overheadMs, warmup.runningMs / 4);
  const warmupRate = (options.warmupRecords / processingMs) * 1000;
  return { overheadMs, warmupRate, records: roundCount(warmupRate * options.targetSeconds) };
}
