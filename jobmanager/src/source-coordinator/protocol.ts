/**
 * The messages between the JobManager's main thread and a job's coordinator worker, which runs the
 * split enumerators of the job's sources (user code, so not on the main thread: see
 * coordinator-host.ts).
 *
 * Every message that concerns readers carries an `epoch`: the main thread starts a new one whenever
 * the enumerators are created again or the readers of an attempt are gone. A message of an older
 * epoch is dropped on either side, so an assignment made for a reader of a failed attempt never
 * reaches the next attempt's reader (the split came back to the enumerator instead).
 */

/** One source vertex whose enumerator the worker runs. */
export interface CoordinatedSource {
  vertexId: string;
  /** The source operator's uid: its state is stored under it in checkpoints. */
  uid: string;
  name: string;
  /** The Source's index in the job's function table. */
  fn: number;
  parallelism: number;
  /** The enumerator's state to restore (absent: a fresh enumerator). */
  restored?: { state: unknown };
}

export interface StartRequest {
  type: "start";
  epoch: number;
  bundlePath: string;
  args: string[];
  functionCount: number;
  jobId: string;
  jobName: string;
  sources: CoordinatedSource[];
}

export type ToCoordinatorWorker =
  /** Creates every enumerator (closing those of a previous start) and starts them. */
  | StartRequest
  /**
   * The readers of `vertexId` are gone (the job restarts): they are no longer registered, and what each
   * got after the snapshot of `restoredCheckpointId` goes back to the enumerator.
   */
  | { type: "reset-readers"; epoch: number; vertexId: string; restoredCheckpointId: number | undefined }
  | { type: "add-reader"; epoch: number; vertexId: string; subtask: number }
  | { type: "split-request"; epoch: number; vertexId: string; subtask: number }
  | { type: "source-event"; epoch: number; vertexId: string; subtask: number; event: unknown }
  /** Every enumerator's state for checkpoint n, answered by a `snapshot` message. */
  | { type: "snapshot"; id: number; checkpointId: number }
  | { type: "checkpoint-complete"; checkpointId: number }
  /** Closes the enumerators; the worker then exits. */
  | { type: "close" };

export type FromCoordinatorWorker =
  | { type: "started"; epoch: number }
  | { type: "assign"; epoch: number; vertexId: string; subtask: number; splits: unknown[] }
  | { type: "no-more-splits"; epoch: number; vertexId: string; subtask: number }
  | { type: "event"; epoch: number; vertexId: string; subtask: number; event: unknown }
  | {
      type: "snapshot";
      id: number;
      states?: Record<string, unknown>;
      /** By vertex id: the splits of each source whose enumerator knows how many it has (SplitEnumerator.splitCount). */
      splitCounts?: Record<string, number>;
      error?: { code: string; message: string };
    }
  /** An enumerator (or the worker's setup) failed: the job fails over. */
  | { type: "failed"; epoch: number; vertexId?: string; error: { code: string; message: string } }
  /** For the JobManager's log (the worker has no logger of its own). */
  | { type: "log"; level: "info" | "warn"; message: string }
  | { type: "closed" };
