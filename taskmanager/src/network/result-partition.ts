import { RiffleError } from "@riffle/shared";
import type { NetworkBufferPool } from "./buffer-pool.js";
import { END_OF_PARTITION, type NetworkEvent, type QueuedBuffer } from "./buffer.js";
import type { RecordSerializer } from "./serialization.js";
import { Signal } from "./signal.js";

/** The reader of one subpartition: a local input channel, or the view that sends to a channel elsewhere. */
export interface SubpartitionReader {
  /** The subpartition went from empty to non-empty. */
  notifyDataAvailable(): void;
  /** The partition was released with an error (its producer failed or was cancelled). */
  notifyReleased(error: RiffleError): void;
}

/** A frame (or the rest of one) waiting for a segment, or an event waiting behind such frames. */
export type SpillEntry = { kind: number; timestamp: number | undefined; payload: Uint8Array; offset: number; headerDone: boolean } | NetworkEvent;

/**
 * One consumer's share of a result partition: finished segments and events queue here until the
 * reader takes them. A queued segment belongs to the pool until the reader hands it back with
 * `recycle` (after decoding it, or after copying its bytes for the wire).
 *
 * The record writer keeps its per-subpartition state here too: the segment being filled, and the
 * spill of frames that found no segment (see RecordWriter).
 */
export class ResultSubpartition {
  private readonly queue: QueuedBuffer[] = [];
  private dataBuffers = 0;
  private reader: SubpartitionReader | undefined;
  private releasedWith: RiffleError | undefined;
  /** Its reader took the end of partition, or it was released: nothing more is read from it. */
  private ended = false;
  endOfPartitionAdded = false;
  /** The segment the writer is filling, and how far. */
  segment: Buffer | undefined;
  position = 0;
  /** Where the segment's open record group starts (its header), or -1; see RecordWriter. */
  groupAt = -1;
  groupTimestamped = false;
  /** Frames and events waiting for segments, in order (owned by the RecordWriter). */
  readonly spill: SpillEntry[] = [];
  /** Set by the RecordWriter. */
  serializer: RecordSerializer | undefined;

  constructor(
    readonly index: number,
    private readonly partition: ResultPartition,
  ) {}

  /** Data buffers queued behind the head: the backlog reported to the receiver. */
  get backlog(): number {
    return this.dataBuffers;
  }

  get queuedBuffers(): number {
    return this.queue.length;
  }

  /** Segments this subpartition holds: queued ones and the one being filled. */
  get heldSegments(): number {
    return this.dataBuffers + (this.segment ? 1 : 0);
  }

  get isReleased(): boolean {
    return this.releasedWith !== undefined;
  }

  add(buffer: QueuedBuffer): void {
    if (this.releasedWith) {
      if (buffer.type === "DATA") this.partition.pool.recycleSegment(buffer.segment);
      return;
    }
    const wasEmpty = this.queue.length === 0;
    this.queue.push(buffer);
    if (buffer.type === "DATA") this.dataBuffers++;
    else if (buffer.type === "END_OF_PARTITION") this.endOfPartitionAdded = true;
    if (wasEmpty) this.reader?.notifyDataAvailable();
  }

  /** Takes the next buffer. A data segment stays the caller's until it gives it back with `recycle`. */
  poll(): QueuedBuffer | undefined {
    const buffer = this.queue.shift();
    if (buffer === undefined) return undefined;
    if (buffer.type === "DATA") this.dataBuffers--;
    else if (buffer.type === "END_OF_PARTITION") this.end();
    this.partition.consumption.notify();
    return buffer;
  }

  /** A segment a reader took with `poll` goes back to the pool: the producer may go on. */
  recycle(segment: Buffer): void {
    this.partition.pool.recycleSegment(segment);
  }

  hasData(): boolean {
    return this.queue.length > 0;
  }

  /** The next buffer, left in the queue. */
  peek(): QueuedBuffer | undefined {
    return this.queue[0];
  }

  setReader(reader: SubpartitionReader): void {
    if (this.reader) throw new RiffleError("PARTITION_NOT_FOUND", `subpartition ${this.index} of ${this.partition.id} already has a reader`);
    if (this.releasedWith) {
      reader.notifyReleased(this.releasedWith);
      return;
    }
    this.reader = reader;
    if (this.queue.length > 0) reader.notifyDataAvailable();
  }

  removeReader(reader: SubpartitionReader): void {
    if (this.reader === reader) this.reader = undefined;
  }

  /**
   * Returns every segment the subpartition holds (queued, and the one the writer was filling) and
   * tells its reader. For good: the writer drops what it would still write here (see RecordWriter).
   */
  release(error: RiffleError): void {
    if (this.releasedWith) return;
    this.releasedWith = error;
    const pool = this.partition.pool;
    for (const b of this.queue) if (b.type === "DATA") pool.recycleSegment(b.segment);
    if (this.segment) pool.recycleSegment(this.segment);
    this.segment = undefined;
    this.groupAt = -1;
    this.queue.length = 0;
    this.dataBuffers = 0;
    this.spill.length = 0;
    const reader = this.reader;
    this.reader = undefined;
    reader?.notifyReleased(error);
    this.end();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.partition.onSubpartitionEnded();
  }
}

/**
 * The output of one execution for one edge: one subpartition per consumer subtask reached by it.
 * It outlives its task until every subpartition's end-of-partition was taken (or the subpartition
 * released), so a consumer that requests it late still gets all the data.
 */
export class ResultPartition {
  readonly subpartitions: ResultSubpartition[];
  /** Notified whenever a reader takes a buffer: the producer may have room again. */
  readonly consumption = new Signal();
  private endedCount = 0;

  constructor(
    readonly id: string,
    numSubpartitions: number,
    readonly pool: NetworkBufferPool,
    /** Every subpartition was read to its end or released: nobody will request the partition any more. */
    private readonly onFullyConsumed: (partition: ResultPartition) => void,
  ) {
    this.subpartitions = Array.from({ length: numSubpartitions }, (_, i) => new ResultSubpartition(i, this));
  }

  subpartition(index: number): ResultSubpartition {
    const sub = this.subpartitions[index];
    if (!sub) throw new RiffleError("PARTITION_NOT_FOUND", `partition ${this.id} has no subpartition ${index}`);
    return sub;
  }

  /** Appends end-of-partition to every subpartition (after the writer flushed its last records). */
  finish(): void {
    for (const sub of this.subpartitions) if (!sub.endOfPartitionAdded) sub.add(END_OF_PARTITION);
  }

  onSubpartitionEnded(): void {
    this.endedCount++;
    if (this.endedCount === this.subpartitions.length) this.onFullyConsumed(this);
  }

  release(error: RiffleError): void {
    for (const sub of this.subpartitions) sub.release(error);
  }
}
