import type { CheckpointListener, RuntimeContext } from "./functions.js";
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
   * Records this reader has not read yet, where it knows them (Flink's `pendingRecords`: a Kafka
   * reader's lag, a rate-limited generator's backlog); undefined when it cannot tell. The TaskManager
   * reports it with every heartbeat, and the autoscaler adds its growth to the source's target rate.
   * Called on the task's thread between two pollNext calls; keep it cheap.
   */
  pendingRecords?(): number | undefined;
  close?(): void | Promise<void>;
}

export interface Source<T> {
  readonly boundedness: Boundedness;
  /** A source that cannot run in parallel (e.g. a collection) reports 1. */
  readonly maxParallelism?: number;
  /**
   * How checkpointed positions are handed out when the job restores at another parallelism: `split`
   * (default) gives each new subtask a contiguous share of all old positions, `union` gives each all.
   */
  readonly stateMode?: OperatorStateMode;
  /** `restored`: the positions this subtask restores from (its share, or all in union mode); absent on a fresh start. */
  createReader(ctx: RuntimeContext, restored?: unknown[]): SourceReader<T>;
}
