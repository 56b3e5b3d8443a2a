import type { JobRecord } from "../store/index.js";

/**
 * The jobs a leader has accepted (Flink's JobGraphStore): one record per job with its graph, bundle
 * hash, arguments, savepoint settings and status, so that a new leader can take over every job that
 * has not ended. Writes are fenced by the leadership the store was opened for (LEADERSHIP_LOST once it
 * ended); writes of one job are applied in the order they were made.
 */
export interface JobStore {
  /** Creates or replaces the job's record. */
  put(record: JobRecord): Promise<void>;
  get(jobId: string): Promise<JobRecord | undefined>;
  /** Every readable record, oldest submission first; an unreadable one is logged and skipped. */
  list(): Promise<JobRecord[]>;
  /** Forgets the job (after its result is in the JobResultStore and its data was cleaned up). */
  remove(jobId: string): Promise<void>;
}
