/**
 * Riffle's side of the benchmarks: real clusters started through the e2e harness (the `riffle` CLI on
 * free ports, exactly as users start them) and jobs timed by the JobManager's own status timestamps.
 */
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { TestCluster, type ClusterOptions, type JobDetails } from "../e2e/harness/index.js";

export { TestCluster };

/** A job file under bench/jobs/. */
export function benchJob(name: string): string {
  return fileURLToPath(new URL(`./jobs/${name}.ts`, import.meta.url));
}

/**
 * Starts a cluster. With `profileDir`, every cluster process writes a V8 CPU profile there when it
 * exits (NODE_OPTIONS is read at spawn, so it is set only while the processes start).
 */
export async function startCluster(options: ClusterOptions, profileDir?: string): Promise<TestCluster> {
  if (!profileDir) return TestCluster.start(options);
  mkdirSync(profileDir, { recursive: true });
  const saved = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${saved ?? ""} --cpu-prof --cpu-prof-dir=${profileDir}`.trim();
  try {
    return await TestCluster.start(options);
  } finally {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
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
