import type { JobGraph } from "@riffle/shared";
import type { JobStatus } from "@riffle/shared/rest-api";

/** Job statuses as stored and reported (defined with the REST API); the allowed moves between them live in the scheduler. */
export { JOB_STATUSES, type JobStatus } from "@riffle/shared/rest-api";

export interface JobFailure {
  code: string;
  message: string;
}

/**
 * What the JobManager keeps of a job across restarts: `<storage>/jobs/<jobId>.json`, rewritten on
 * every status change.
 */
export interface JobRecord {
  /** 32 hex characters, as Flink's job ids. */
  id: string;
  name: string;
  status: JobStatus;
  bundleHash: string;
  args: string[];
  graph: JobGraph;
  submittedAt: number;
  /** When the job entered each status it went through (ms since the epoch). */
  statusTimestamps: Partial<Record<JobStatus, number>>;
  /** When the job reached a terminal status; null while it has not. */
  endTime: number | null;
  failure?: JobFailure;
  /** Times the job was restarted after a failure; absent in records written before restarts existed. */
  numRestarts?: number;
  /**
   * The checkpoint id counter (shared by savepoints) and the latest completed checkpoint, so ids
   * never repeat and the pointer survives; absent until the job's first checkpoint or savepoint.
   */
  checkpoints?: {
    nextId: number;
    latest: { id: number; path: string; timestamp: number } | null;
    /** The newest completed savepoint's id; absent until one completed (see CheckpointProgress). */
    newestSavepointId?: number;
  };
  /** The savepoint the job was started from (absolute directory), if any. */
  savepoint?: { path: string; checkpointId: number; allowNonRestoredState: boolean };
}
