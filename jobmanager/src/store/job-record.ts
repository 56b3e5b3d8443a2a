import type { JobGraph } from "@riffle/shared";
import type { JobStatus } from "@riffle/shared/rest-api";
import type { AutoscalerRecord } from "../autoscaler/job-autoscaler.js";

/** Job statuses as stored and reported (defined with the REST API); the allowed moves between them live in the scheduler. */
export { JOB_STATUSES, type JobStatus } from "@riffle/shared/rest-api";

export interface JobFailure {
  code: string;
  message: string;
}

/**
 * What the JobManager keeps of a job across restarts and failovers, in the HA job store (files in
 * `<jobmanager.storage.dir>/jobs/` without high availability, etcd with it): rewritten on every status
 * change and before every deployment.
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
   * The attempt number of the job's newest deployment; absent before the first. Each deployment takes
   * the next number and records it before any of its tasks exists, so attempts, execution ids and
   * the names of the exactly-once file sink's in-progress files never repeat, across JobManagers too.
   */
  lastAttempt?: number;
  /**
   * The newest completed savepoint's id: what sinks staged for it must outlive restores of older
   * checkpoints (decision record 0007). Absent until one completed. (Checkpoint ids and pointers are
   * in the HA stores, not here.)
   */
  newestSavepointId?: number;
  /** The savepoint the job was started from (absolute directory), if any. */
  savepoint?: { path: string; checkpointId: number; allowNonRestoredState: boolean };
  /**
   * What the job's autoscaler must not forget across a leader change (as Flink's operator keeps it in
   * a ConfigMap): its newest decisions, the rescales of the last hour the cap counts, and what it
   * knows of ineffective scale-ups. Absent until its first decision.
   */
  autoscaler?: AutoscalerRecord;
}
