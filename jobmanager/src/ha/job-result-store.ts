import type { JobFailure } from "../store/index.js";

export type TerminalJobStatus = "FINISHED" | "FAILED" | "CANCELED";

/** How a job ended. */
export interface JobResult {
  jobId: string;
  status: TerminalJobStatus;
  /** When it ended (ms since the epoch). */
  endTime: number;
  failure?: JobFailure;
}

/** A result and whether the job's data (checkpoint pointers, counter, job record) was cleaned up. */
export interface JobResultEntry extends JobResult {
  clean: boolean;
}

/**
 * Jobs that ended (Flink's JobResultStore), so that a new leader never reruns a job that already
 * finished, failed or was cancelled, even when its record in the JobStore still says RUNNING (the old
 * leader died between the two writes). A result is written "dirty" when the job ends, and marked clean
 * once the job's HA data was removed; a new leader finishes the clean-up of dirty results. Writes are
 * fenced by the leadership the store was opened for.
 */
export interface JobResultStore {
  createDirtyResult(result: JobResult): Promise<void>;
  /** HA_STORAGE_FAILED when the job has no result. */
  markResultAsClean(jobId: string): Promise<void>;
  get(jobId: string): Promise<JobResultEntry | undefined>;
  hasJobResultEntry(jobId: string): Promise<boolean>;
  getDirtyResults(): Promise<JobResult[]>;
  /**
   * Every result, clean or not (a new leader reads them all at once). HA_STORAGE_FAILED when one is
   * unreadable: a job must not be run again because its result cannot be read.
   */
  list(): Promise<JobResultEntry[]>;
}
