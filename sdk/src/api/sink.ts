import type { RestartStrategy } from "@riffle/shared";
import type { CheckpointListener, RuntimeContext } from "./functions.js";

/**
 * A sink writes records; when it cannot take more (a full socket, a slow client) it says so through
 * `isAvailable()` and the task stops feeding it until `available()` resolves, which back-pressures
 * the whole pipeline instead of growing memory.
 */
export interface SinkWriter<T> extends CheckpointListener {
  write(record: T): void;
  /** False while the writer has no room; the task then waits on `available()`. */
  isAvailable?(): boolean;
  available?(): Promise<void>;
  /**
   * Writes out everything buffered and waits until it is durable where the writer writes (a Kafka
   * producer's acknowledgements), as Flink's `SinkWriter.flush`: before every checkpoint barrier
   * (`endOfInput` false), which makes the writer at-least-once, and at end of input (`true`). The task
   * takes no records meanwhile and sends the barrier on only once it resolved.
   */
  flush?(endOfInput: boolean): void | Promise<void>;
  /**
   * The writer's state for checkpoint `checkpointId` (Flink's StatefulSinkWriter), as a list of plain
   * values: kept in the sink's operator list state and handed back to `Sink.createWriter` on restore
   * (split among the new subtasks on a rescale, like a source's positions). Taken at the barrier,
   * after `preCommit` of a two-phase-commit writer.
   */
  snapshotState?(checkpointId: number): unknown[];
  /**
   * Checkpoint `checkpointId` completed (after the transactions staged up to it were committed, for a
   * two-phase-commit writer). Best effort, as for sources: a notification may be lost, and a later one
   * covers the earlier checkpoints.
   */
  notifyCheckpointComplete?(checkpointId: number): void | Promise<void>;
  /** Checkpoint `checkpointId` will never complete. Staged transactions stay and ride on the next one. */
  notifyCheckpointAborted?(checkpointId: number): void | Promise<void>;
  close?(): void | Promise<void>;
}

export interface Sink<T> {
  /**
   * `restored`: the writer state this subtask restores from (its share of what the writers'
   * `snapshotState` returned for the restored checkpoint); absent on a fresh start.
   */
  createWriter(ctx: RuntimeContext, services: SinkServices, restored?: unknown[]): SinkWriter<T> | Promise<SinkWriter<T>>;
  /**
   * Called when the job's graph is built (at submission): a sink whose settings cannot work with the
   * job's checkpointing or restart strategy throws a RiffleError saying what to change, and the job is
   * refused before it runs.
   */
  validateJob?(job: SinkJobSettings): void;
}

/** What a sink may check against when the job is built. */
export interface SinkJobSettings {
  /** Absent: the job takes no checkpoints. */
  readonly checkpointIntervalMs: number | undefined;
  /** Absent: the cluster's default applies. */
  readonly restartStrategy: RestartStrategy | undefined;
  /** The longest restart delay of the cluster's default strategy for checkpointed jobs (exponential back-off's max delay). */
  readonly defaultRestartDelayMs: number;
  /** How long a lost TaskManager can go unnoticed before the job restarts (heartbeat timeout plus one interval). */
  readonly failureDetectionMs: number;
}

/** What the runtime offers sinks beyond the context: the channel back to the client for `collect`. */
export interface SinkServices {
  /** Sends a batch of records of this subtask to the JobManager for the submitting client. */
  collect(records: readonly unknown[]): Promise<void>;
}

/** The checkpoint or savepoint a subtask restores from, and how much of the job's history must survive the restore. */
export interface RestoredCheckpoint {
  readonly checkpointId: number;
  /**
   * The newest checkpoint or savepoint of the job that completed and may still be restored (at least
   * `checkpointId`). An intermediate savepoint (one the job goes on after) is never notified and
   * never used for restarts, so a failover can go back to a checkpoint older than it; what was staged
   * for checkpoints up to this id may then still be committed by a job started from that savepoint.
   * (A terminal savepoint, which stops the job, is notified like a checkpoint: its sinks commit.)
   */
  readonly retainedUpTo: number;
  /**
   * Every checkpoint and savepoint the job triggered before this deployment has an id below this one:
   * a writer that names its transactions by checkpoint id knows how far earlier attempts can have got.
   * Absent where the runtime does not say.
   */
  readonly nextCheckpointId?: number;
  /** The sink's parallelism when the restored checkpoint was taken (the current one after a restart that restores nothing). */
  readonly previousParallelism?: number;
}

/**
 * A writer whose output becomes visible only with a completed checkpoint (two-phase commit, as in
 * Flink's TwoPhaseCommitSinkFunction). The runtime drives it:
 *
 *   write* ── barrier n ──► flush(false), then preCommit(n): stage what was written since the last
 *         │                 barrier (both awaited: no record is written meanwhile, and the barrier goes
 *         │                 on, and the checkpoint is acknowledged, only once they resolved)
 *         ── checkpoint n complete ──► commit(staged ≤ n)
 *   restore from n ──► commit(staged in n) again (commits are idempotent), then abortLeftovers
 *
 * Transactions are plain values: they are stored in the checkpoint, each in the state of exactly one
 * subtask (split state), so after a rescale exactly one subtask commits it. A transaction staged for a
 * checkpoint or savepoint belongs to it while it may be restored: see `abortLeftovers`, and decision
 * records 0007 and 0012.
 */
export interface TwoPhaseCommitWriter<T, Txn> extends SinkWriter<T> {
  /**
   * Stages everything written since the last call; undefined when nothing was written. May return a
   * promise (a Kafka transaction's last sends acknowledged): the task awaits it before it snapshots
   * and sends the barrier on, and a rejection declines the checkpoint.
   */
  preCommit(checkpointId: number): Txn | undefined | Promise<Txn | undefined>;
  /** Makes a staged transaction visible. Must be idempotent: after a restore it may run again. */
  commit(txn: Txn): Promise<void> | void;
  /**
   * After a restore, and on a restart that restores nothing (no checkpoint completed yet, `staged`
   * empty and `restored.checkpointId` 0), removes what this subtask's job wrote and no checkpoint or
   * savepoint will ever commit: data never staged, and transactions staged for checkpoints newer than
   * `restored.retainedUpTo` (those never completed). It keeps `staged`, every transaction staged for
   * a checkpoint up to `restored.retainedUpTo` (a savepoint taken after the restored checkpoint may
   * still commit it), and everything other jobs wrote (their savepoints are theirs).
   */
  abortLeftovers(staged: readonly Txn[], restored: RestoredCheckpoint): Promise<void> | void;
  /**
   * On a fresh start (nothing restored, first attempt): removes what earlier jobs writing under the
   * same names left open and never committed (a cancelled or failed job's transactions).
   */
  abortLingering?(): Promise<void> | void;
}

export function isTwoPhaseCommitWriter(w: SinkWriter<unknown>): w is TwoPhaseCommitWriter<unknown, unknown> {
  const x = w as Partial<TwoPhaseCommitWriter<unknown, unknown>>;
  return typeof x.preCommit === "function" && typeof x.commit === "function" && typeof x.abortLeftovers === "function";
}
