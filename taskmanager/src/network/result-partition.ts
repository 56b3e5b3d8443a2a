import { RiffleError } from "@riffle/shared";
import type { NetworkBufferPool } from "./buffer-pool.js";
import { END_OF_PARTITION, type NetworkBuffer } from "./buffer.js";
import { Signal } from "./signal.js";

/** The reader of one subpartition: a local input channel, or the view that sends to a remote one. */
export interface SubpartitionReader {
  /** The subpartition went from empty to non-empty. */
  notifyDataAvailable(): void;
  /** The partition was released with an error (its producer failed or was cancelled). */
  notifyReleased(error: RiffleError): void;
}

/**
 * One consumer's share of a result partition: finished buffers queue here until the reader takes
 * them. Queued data buffers hold a pool buffer each; it returns to the pool when the reader takes it
 * (a local reader decodes it at once; a remote view hands it to gRPC against the receiver's credit).
 */
export class ResultSubpartition {
  private readonly queue: NetworkBuffer[] = [];
  private dataBuffers = 0;
  private reader: SubpartitionReader | undefined;
  private releasedWith: RiffleError | undefined;
  /** Records waiting to be encoded into the next buffer (owned by the RecordWriter). */
  pending: unknown[] = [];
  /**
   * Their event timestamps (NaN for none), parallel to `pending`; created only when a record of the
   * batch has one, so batches without event time carry no array.
   */
  pendingTimestamps: number[] | undefined;
  endOfPartitionAdded = false;

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

  add(buffer: NetworkBuffer): void {
    if (this.releasedWith) {
      if (buffer.type === "DATA") this.partition.pool.recycle();
      return;
    }
    const wasEmpty = this.queue.length === 0;
    this.queue.push(buffer);
    if (buffer.type === "DATA") this.dataBuffers++;
    else if (buffer.type === "END_OF_PARTITION") this.endOfPartitionAdded = true;
    if (wasEmpty) this.reader?.notifyDataAvailable();
  }

  /** Takes the next buffer; its pool buffer is returned and the producer may go on. */
  poll(): NetworkBuffer | undefined {
    const buffer = this.queue.shift();
    if (buffer === undefined) return undefined;
    if (buffer.type === "DATA") {
      this.dataBuffers--;
      this.partition.pool.recycle();
    } else if (buffer.type === "END_OF_PARTITION") {
      this.partition.onSubpartitionConsumed();
    }
    this.partition.consumption.notify();
    return buffer;
  }

  hasData(): boolean {
    return this.queue.length > 0;
  }

  /** The next buffer, left in the queue. */
  peek(): NetworkBuffer | undefined {
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

  release(error: RiffleError): void {
    if (this.releasedWith) return;
    this.releasedWith = error;
    if (this.dataBuffers > 0) this.partition.pool.recycle(this.dataBuffers);
    this.queue.length = 0;
    this.dataBuffers = 0;
    this.pending = [];
    this.pendingTimestamps = undefined;
    const reader = this.reader;
    this.reader = undefined;
    reader?.notifyReleased(error);
  }
}

/** How records of a partition turn into bytes: the writer sizes its buffers from what it learns here. */
export interface EncodingListener {
  onEncoded(bytes: number, records: number): void;
  /** Records that make about one buffer size. */
  readonly recordsPerBuffer: number;
}

/**
 * The output of one execution for one edge: one subpartition per consumer subtask reached by it.
 * It outlives its task until every subpartition's end-of-partition was taken, so a consumer that
 * requests it late still gets all the data.
 */
export class ResultPartition {
  readonly subpartitions: ResultSubpartition[];
  /** Notified whenever a reader takes a buffer: the producer may have room again. */
  readonly consumption = new Signal();
  private consumedCount = 0;
  /** Set by the partition's record writer. */
  encoding: EncodingListener = { onEncoded() {}, recordsPerBuffer: 256 };

  constructor(
    readonly id: string,
    numSubpartitions: number,
    readonly pool: NetworkBufferPool,
    private readonly onFullyConsumed: (partition: ResultPartition) => void,
  ) {
    this.subpartitions = Array.from({ length: numSubpartitions }, (_, i) => new ResultSubpartition(i, this));
  }

  subpartition(index: number): ResultSubpartition {
    const sub = this.subpartitions[index];
    if (!sub) throw new RiffleError("PARTITION_NOT_FOUND", `partition ${this.id} has no subpartition ${index}`);
    return sub;
  }

  /** Appends an in-band event to every subpartition (after the writer flushed what precedes it). */
  broadcastEvent(event: NetworkBuffer): void {
    for (const sub of this.subpartitions) sub.add(event);
  }

  /** Appends end-of-partition to every subpartition (after the writer flushed its last records). */
  finish(): void {
    for (const sub of this.subpartitions) if (!sub.endOfPartitionAdded) sub.add(END_OF_PARTITION);
  }

  onSubpartitionConsumed(): void {
    this.consumedCount++;
    if (this.consumedCount === this.subpartitions.length) this.onFullyConsumed(this);
  }

  release(error: RiffleError): void {
    for (const sub of this.subpartitions) sub.release(error);
  }
}
