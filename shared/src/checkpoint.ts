/**
 * What checkpoints are made of, shared by the JobManager (coordinator, metadata, restore assignment)
 * and the TaskManagers (snapshots, restore). All paths are relative to the checkpoint's own
 * directory, so a checkpoint or savepoint directory can be copied elsewhere and still restore.
 *
 *   <checkpoint storage>/<jobId>/chk-<n>/_metadata          CheckpointMetadata (JSON)
 *   <checkpoint storage>/<jobId>/chk-<n>/<files of tasks>   state files named in the handles
 */

export interface KeyGroupRangeJson {
  start: number;
  /** Inclusive. */
  end: number;
}

/** Keyed state of one subtask, for the key groups in `keyGroupRange`. */
export interface KeyedStateHandle {
  kind: "keyed";
  path: string;
  keyGroupRange: KeyGroupRangeJson;
  /** Bytes on disk. */
  size: number;
  /** `[keyGroup, byte offset of its first frame]` for every key group that has state, ascending. */
  keyGroupOffsets: [number, number][];
}

export type OperatorStateMode = "split" | "union";

/** Operator (non-keyed) list states of one subtask, in one file. */
export interface OperatorStateHandle {
  kind: "operator";
  path: string;
  size: number;
  /** Every list in the file, with how it is redistributed when the parallelism changes. */
  states: Record<string, { mode: OperatorStateMode; count: number }>;
}

/** The state one operator of one subtask wrote for a checkpoint. */
export interface OperatorSubtaskState {
  uid: string;
  keyed: KeyedStateHandle[];
  operator: OperatorStateHandle[];
}

/** What a task acknowledges: the states of its chain's operators. */
export interface TaskStateSnapshot {
  vertexId: string;
  subtask: number;
  operators: OperatorSubtaskState[];
}

/** One operator's state across its subtasks, as stored in _metadata. */
export interface OperatorState {
  uid: string;
  parallelism: number;
  maxParallelism: number;
  /** Index = old subtask index. */
  subtasks: Array<{ keyed: KeyedStateHandle[]; operator: OperatorStateHandle[] }>;
  /**
   * The state of the operator's coordinator in the JobManager (a source's split enumerator), as the
   * plain value its `snapshotState` returned; absent for operators without one.
   */
  coordinatorState?: unknown;
}

export interface CheckpointMetadata {
  version: 1;
  jobId: string;
  jobName: string;
  checkpointId: number;
  timestamp: number;
  isSavepoint: boolean;
  maxParallelism: number;
  operators: OperatorState[];
}

/**
 * What a task restores: for each operator of its chain (by uid), the keyed handles overlapping its
 * key-group range, and every old subtask's operator-state handles (it takes its share itself).
 * `baseDir` is the absolute directory of the checkpoint the paths are relative to.
 */
export interface TaskRestore {
  checkpointId: number;
  baseDir: string;
  /**
   * The newest checkpoint or savepoint of the job that completed and may still be restored (at least
   * `checkpointId`; savepoints are never deleted). What two-phase-commit sinks staged for checkpoints
   * up to this id may still be committed by one of them, so the restore must leave it in place.
   */
  retainedUpTo: number;
  operators: Array<{
    uid: string;
    keyed: KeyedStateHandle[];
    operator: OperatorStateHandle[];
    oldParallelism: number;
  }>;
}
