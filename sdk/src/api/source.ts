import type { CheckpointListener, RuntimeContext } from "./functions.js";
import type { OutputTag } from "./output-tag.js";
import type { OperatorStateMode } from "../state/stores.js";

/**
 * A source, after Flink's FLIP-27 reader: the task calls `pollNext` in its mailbox loop whenever its
 * outputs have room, so a source never outruns back-pressure; a reader that has nothing right now
 * returns NOTHING_AVAILABLE and resolves `isAvailable()` when it has.
 */
export type Boundedness = "bounded" | "unbounded";

export type PollResult = "MORE_AVAILABLE" | "NOTHING_AVAILABLE" | "END_OF_INPUT";

/**
 * Where a reader emits (Flink's ReaderOutput). Records may carry their event-time timestamp; the
 * source's WatermarkStrategy (env.fromSource) then assigns or overrides it and generates watermarks.
 * A reader of several splits (partitions, files) can emit each split through its own output, so that
 * watermarks are generated per split and the reader's watermark is the minimum over its active splits.
 */
export interface ReaderOutput<T> {
  collect(record: T, timestamp?: number): void;
  /** The same as `collect(record, timestamp)`, under the name of Flink's SourceContext. */
  collectWithTimestamp(record: T, timestamp: number): void;
  /** A watermark from the reader itself (for sources whose data carries watermarks). */
  emitWatermark(watermark: number): void;
  /** The reader will emit nothing for a while: downstream tasks leave it out of their watermark. */
  markIdle(): void;
  /** The reader emits again after markIdle (emitting a record also does this). */
  markActive(): void;
  /** An output for one split, with watermarks generated for that split alone. */
  createOutputForSplit(splitId: string): ReaderOutput<T>;
  /** The split is finished: its watermark no longer holds the reader's back. */
  releaseOutputForSplit(splitId: string): void;
  /**
   * A value for the side output `tag` (`stream.getSideOutput(tag)` of the source's stream), with the
   * record's timestamp if it has one: a record the source cannot read goes there instead of failing
   * the job, when the source is told to.
   */
  output<X>(tag: OutputTag<X>, value: X, timestamp?: number): void;
}

/**
 * Reads one subtask's share of a source. Checkpointing, as in Flink (its SourceReader is a
 * CheckpointListener):
 *
 *   pollNext* ── barrier n ──► snapshotState(n): positions stored in checkpoint n
 *             ── checkpoint n complete ──► notifyCheckpointComplete(n): e.g. commit offsets upstream
 *             ── checkpoint n aborted  ──► notifyCheckpointAborted(n)
 *   restore from n ──► Source.createReader(ctx, positions of n)
 *
 * Notifications run in the task's mailbox, between pollNext calls. They are best effort: one may be
 * lost (a failure right after the checkpoint completed), and the checkpoint a job restores from is
 * not notified again, so completion of n means "every snapshot up to n is durable".
 */
export interface SourceReader<T> extends CheckpointListener {
  start?(): void | Promise<void>;
  /**
   * The reader's position for checkpoint `checkpointId`, as a list of plain values (one per split it
   * reads). Taken between two pollNext calls, so it covers exactly the records emitted so far.
   */
  snapshotState?(checkpointId: number): unknown[];
  /**
   * Checkpoint `checkpointId` completed: what `snapshotState(checkpointId)` returned is durable and
   * will not be replayed. A Kafka reader commits its offsets to the consumer group here.
   */
  notifyCheckpointComplete?(checkpointId: number): void | Promise<void>;
  /** Checkpoint `checkpointId` will never complete: forget anything kept for it. */
  notifyCheckpointAborted?(checkpointId: number): void | Promise<void>;
  /** Emits at most `max` records into `output` and says whether more may follow. Must not block. */
  pollNext(output: ReaderOutput<T>, max: number): PollResult;
  /** Resolves when `pollNext` may emit again after it returned NOTHING_AVAILABLE. */
  isAvailable(): Promise<void>;
  /**
   * Splits its source's enumerator assigned to this reader (FLIP-27 sources, see `Source.createEnumerator`).
   * Runs in the task's mailbox, between two pollNext calls; a reader waiting in `isAvailable()` is
   * polled again afterwards.
   */
  addSplits?(splits: unknown[]): void;
  /**
   * The enumerator will assign this reader no more splits: once the splits it has are done, a bounded
   * reader returns END_OF_INPUT.
   */
  notifyNoMoreSplits?(): void;
  /** An event its enumerator sent with `SplitEnumeratorContext.sendEventToSourceReader`. */
  handleSourceEvents?(event: unknown): void;
  /**
   * Records this reader has not read yet, where it knows them (Flink's `pendingRecords`: a Kafka
   * reader's lag, a rate-limited generator's backlog); undefined when it cannot tell. The TaskManager
   * reports it with every heartbeat, and the autoscaler adds its growth to the source's target rate.
   * Called on the task's thread between two pollNext calls; keep it cheap.
   */
  pendingRecords?(): number | undefined;
  close?(): void | Promise<void>;
}

/**
 * A unit of a source's input that one reader reads at a time: a Kafka partition, a range of a file.
 * Splits are plain values (they travel between the JobManager and the TaskManagers and are stored in
 * checkpoints); `splitId` names one for its whole life.
 */
export interface SourceSplit {
  readonly splitId: string;
}

/**
 * What a split enumerator may do (Flink's SplitEnumeratorContext). The enumerator runs in the
 * JobManager, in a worker thread of the job; every call here is ordered with its snapshots, so a split
 * is in the enumerator's checkpointed state or in a reader's, never in both or neither.
 */
export interface SplitEnumeratorContext<Split extends SourceSplit> {
  readonly jobId: string;
  readonly jobName: string;
  /** The name of the source (its vertex), for messages. */
  readonly sourceName: string;
  /** The source's parallelism: readers are subtasks 0 .. currentParallelism() - 1. */
  currentParallelism(): number;
  /** The subtasks whose reader has started and registered, ascending. */
  registeredReaders(): number[];
  /** Gives splits to registered readers; throws for a subtask whose reader has not registered. */
  assignSplits(assignment: ReadonlyMap<number, readonly Split[]>): void;
  assignSplit(split: Split, subtaskId: number): void;
  /** That reader gets no more splits (a bounded source: it ends once its splits are done). */
  signalNoMoreSplits(subtaskId: number): void;
  /** A custom event to one reader (its `handleSourceEvents`). */
  sendEventToSourceReader(subtaskId: number, event: unknown): void;
  /**
   * Fails the job with `error` (a source it cannot read, a broker it cannot reach); its restart
   * strategy decides what happens next, and a restart creates the enumerator again.
   */
  failJob(error: unknown): void;
}

/**
 * Discovers a source's splits and assigns them to readers (Flink's FLIP-27 SplitEnumerator). One runs
 * per source in the JobManager, not in the tasks. Its state (`snapshotState`) is part of every
 * checkpoint, taken before the source tasks take theirs, and it comes back in
 * `Source.createEnumerator(ctx, restored)` when a job restores at another parallelism or from a
 * savepoint. After a failure the splits that readers got since the restored checkpoint come back
 * through `addSplitsBack`.
 */
export interface SplitEnumerator<Split extends SourceSplit, State> {
  /** Starts discovery (a periodic one with timers of its own). */
  start(): void | Promise<void>;
  /** A reader started (or started again after a failure) and can take splits. */
  addReader(subtaskId: number): void;
  /** Splits a failed reader got after the checkpoint the job restores: they are unassigned again. */
  addSplitsBack(splits: Split[], subtaskId: number): void;
  /** A reader asked for a split (`SourceReaderContext.sendSplitRequest`, pull-based sources). */
  handleSplitRequest?(subtaskId: number): void;
  /** A custom event from a reader (`SourceReaderContext.sendSourceEventToCoordinator`). */
  handleSourceEvent?(subtaskId: number, event: unknown): void;
  /** The enumerator's state for checkpoint `checkpointId`, a plain value. Synchronous. */
  snapshotState(checkpointId: number): State;
  /**
   * How many splits the source has now (a Kafka source: its partitions), or undefined while it does
   * not know. Read at each checkpoint; the autoscaler aligns the source's parallelism to a divisor of it.
   */
  splitCount?(): number | undefined;
  notifyCheckpointComplete?(checkpointId: number): void | Promise<void>;
  close?(): void | Promise<void>;
}

/** What a reader of a source with an enumerator may do besides its RuntimeContext. */
export interface SourceReaderContext extends RuntimeContext {
  /** Asks the enumerator for a split (its `handleSplitRequest`). */
  sendSplitRequest(): void;
  /** A custom event to the enumerator (its `handleSourceEvent`). */
  sendSourceEventToCoordinator(event: unknown): void;
}

export interface Source<T> {
  readonly boundedness: Boundedness;
  /**
   * A FLIP-27 source: its enumerator runs in the JobManager and hands splits to the readers (their
   * `addSplits`), which then keep the splits they read in their checkpointed state. Without it every
   * reader finds its own share (by subtask index), as datagen and collections do.
   */
  createEnumerator?(ctx: SplitEnumeratorContext<SourceSplit>, restored?: unknown): SplitEnumerator<SourceSplit, unknown>;
  /** A source that cannot run in parallel (e.g. a collection) reports 1. */
  readonly maxParallelism?: number;
  /**
   * How checkpointed positions are handed out when the job restores at another parallelism: `split`
   * (default) gives each new subtask a contiguous share of all old positions, `union` gives each all.
   */
  readonly stateMode?: OperatorStateMode;
  /**
   * `restored`: the positions this subtask restores from (its share, or all in union mode); absent on a
   * fresh start. A source with an enumerator gets a SourceReaderContext.
   */
  createReader(ctx: SourceReaderContext, restored?: unknown[]): SourceReader<T>;
}
