import { encodeBatch, murmur3Key, operatorIndexForKeyGroup, type Partitioner } from "@riffle/shared";
import { MAX_WATERMARK, MIN_WATERMARK, type Output } from "@riffle/sdk/internal";
import type { ResultPartition, ResultSubpartition } from "./result-partition.js";
import { type CheckpointBarrier, type NetworkBuffer, untimed } from "./buffer.js";

export interface RecordWriterOptions {
  partitioner: Partitioner;
  /** Key selector for hash partitioning. */
  keySelector?: ((record: unknown) => unknown) | undefined;
  maxParallelism: number;
  bufferSize: number;
  maxBuffersPerSubpartition: number;
  /** Seeds round-robin and shuffle so that runs repeat. */
  subtaskIndex: number;
}

/**
 * Turns records into buffers: each record goes to the subpartition(s) its partitioner picks, where it
 * waits in a pending batch until the batch reaches about one buffer's size (or the buffer timeout
 * flushes it); the batch then becomes a buffer from the network pool. Remote views encode buffers as
 * they send them and report the size, which sets how many records make a buffer; a partition read
 * only locally is never encoded, except one buffer in SAMPLE_EVERY to keep that size measured.
 *
 * The task checks `isAvailable()` before each record: a writer whose subpartition queue is full, or
 * which needs a buffer while the pool is empty, is unavailable and the task waits on `available()`.
 *
 * Event time: a record's timestamp goes into a parallel array of its batch, which exists only once a
 * record of that batch has a timestamp. Watermarks and watermark status are in-band events on every
 * subpartition, behind the records written before them (partly filled batches go out first).
 */
const SAMPLE_EVERY = 64;

export class RecordWriter implements Output {
  private readonly subs: ResultSubpartition[];
  private readonly select: (record: unknown) => number;
  private readonly broadcast: boolean;
  /** Records per buffer, adapted to the measured encoded size so buffers come out near bufferSize. */
  private target = 256;
  private bytesPerRecord = 0;
  /** Set when a buffer could not be had or a queue filled up; until then the writer needs no check. */
  private blocked = false;
  private sinceMeasured = SAMPLE_EVERY;
  recordsOut = 0;
  /**
   * Bytes of this writer's records encoded for other TaskManagers (records plus 8 per timestamp), as
   * remote views encode them; local readers take records by reference and add nothing, nor does the
   * sampling that sizes batches.
   */
  bytesOut = 0;
  buffersOut = 0;
  /** The last watermark sent on every subpartition (MIN_WATERMARK before any). */
  currentOutputWatermark = MIN_WATERMARK;
  /** The watermark status last announced downstream: idle outputs send no watermarks. */
  private idle = false;

  constructor(
    readonly partition: ResultPartition,
    private readonly options: RecordWriterOptions,
  ) {
    this.subs = partition.subpartitions;
    this.broadcast = options.partitioner === "broadcast";
    this.select = channelSelector(options, this.subs.length);
    const writer = this;
    partition.encoding = {
      onEncoded(bytes, records) {
        writer.bytesOut += bytes;
        writer.adapt(bytes, records);
      },
      get recordsPerBuffer() {
        return writer.target;
      },
    };
  }

  collect(record: unknown, timestamp?: number): void {
    this.recordsOut++;
    if (this.broadcast) {
      for (const sub of this.subs) this.append(sub, record, timestamp);
    } else {
      this.append(this.subs[this.select(record)]!, record, timestamp);
    }
  }

  private append(sub: ResultSubpartition, record: unknown, timestamp: number | undefined): void {
    if (timestamp !== undefined) {
      // The first timestamp of a batch creates its array: NaN for the records before it.
      (sub.pendingTimestamps ??= untimed(sub.pending.length)).push(timestamp);
    } else if (sub.pendingTimestamps !== undefined) {
      sub.pendingTimestamps.push(Number.NaN);
    }
    sub.pending.push(record);
    if (sub.pending.length >= this.target) this.finishBuffer(sub);
  }

  /**
   * Sends watermark `watermark` on every subpartition, behind the records written so far, if it is
   * later than the last one sent. While the output is idle watermarks are dropped (as Flink's
   * RecordWriterOutput does): consumers ignore watermarks of idle channels, and the producer's
   * watermark generator sends its current one again once active. MAX_WATERMARK is the exception.
   */
  emitWatermark(watermark: number): void {
    if (!(watermark > this.currentOutputWatermark)) return;
    if (this.idle) {
      if (watermark !== MAX_WATERMARK) return;
      // The end of event time gets through an idle output: consumers that left this channel out of
      // their minimum must still see it, or their windows would never fire at the end of input.
      this.emitWatermarkStatus(false);
    }
    this.currentOutputWatermark = watermark;
    this.broadcastInBand({ type: "WATERMARK", timestamp: watermark });
  }

  /** Announces idle / active on every subpartition when the status changes. */
  emitWatermarkStatus(idle: boolean): void {
    if (idle === this.idle) return;
    this.idle = idle;
    this.broadcastInBand({ type: "WATERMARK_STATUS", idle });
  }

  /** Side outputs are wired by the operator chain, not by network writers. */
  collectSide(): void {}

  /** Turns the pending records of `sub` into a buffer; false when the pool has none to give. */
  private finishBuffer(sub: ResultSubpartition, force = false): boolean {
    if (sub.pending.length === 0) return true;
    if (force) {
      this.partition.pool.forceRequest();
    } else if (!this.partition.pool.tryRequest()) {
      this.blocked = true;
      return false;
    }
    const records = sub.pending;
    const timestamps = sub.pendingTimestamps;
    sub.pending = [];
    sub.pendingTimestamps = undefined;
    this.buffersOut++;
    if (++this.sinceMeasured >= SAMPLE_EVERY) this.adapt(encodeBatch(records).length + (timestamps ? 8 * timestamps.length : 0), records.length);
    sub.add({ type: "DATA", records, timestamps });
    if (sub.queuedBuffers >= this.options.maxBuffersPerSubpartition) this.blocked = true;
    return true;
  }

  private adapt(bytes: number, records: number): void {
    this.sinceMeasured = 0;
    const perRecord = bytes / records;
    this.bytesPerRecord = this.bytesPerRecord === 0 ? perRecord : this.bytesPerRecord * 0.8 + perRecord * 0.2;
    this.target = Math.max(1, Math.min(8192, Math.floor(this.options.bufferSize / this.bytesPerRecord)));
  }

  isAvailable(): boolean {
    if (!this.blocked) return true;
    this.blocked = false;
    const max = this.options.maxBuffersPerSubpartition;
    for (let i = 0; i < this.subs.length; i++) {
      const sub = this.subs[i]!;
      if (sub.queuedBuffers >= max) {
        this.blocked = true;
        return false;
      }
      if (sub.pending.length >= this.target && !this.finishBuffer(sub)) return false;
    }
    return !this.blocked;
  }

  /** Resolves when a reader took a buffer or the pool got buffers back; the caller checks again. */
  available(): Promise<void> {
    return Promise.race([this.partition.consumption.wait(), this.partition.pool.whenRecycled()]);
  }

  /** Encodes every partly filled batch (buffer timeout, or before end of input). False if the pool ran dry. */
  flush(): boolean {
    let all = true;
    for (const sub of this.subs) if (sub.pending.length > 0 && !this.finishBuffer(sub)) all = false;
    return all;
  }

  /**
   * Sends a checkpoint barrier on every subpartition, right behind the records written so far: partly
   * filled batches go out first, with overdraft buffers if the pool is empty, since the barrier cannot
   * wait behind back-pressure without stalling the checkpoint.
   */
  broadcastBarrier(barrier: CheckpointBarrier): void {
    this.broadcastInBand(barrier);
  }

  /**
   * An event on every subpartition behind the records written so far. Partly filled batches go out
   * first with overdraft buffers if need be: events must not wait behind back-pressure (a stalled
   * checkpoint, a watermark holding back windows downstream), and at most one batch per subpartition
   * is pending.
   */
  private broadcastInBand(event: NetworkBuffer): void {
    for (const sub of this.subs) this.finishBuffer(sub, true);
    this.partition.broadcastEvent(event);
  }

  /** Ends the partition once every pending record is in a buffer; false while the pool has none to give. */
  finishIfFlushed(): boolean {
    if (!this.flush()) return false;
    this.partition.finish();
    return true;
  }

  /** Fraction of the subpartition queues in use: Flink's outPoolUsage. */
  usage(): number {
    let queued = 0;
    for (const s of this.subs) queued += s.queuedBuffers;
    return queued / (this.subs.length * this.options.maxBuffersPerSubpartition);
  }
}

/** xorshift32: deterministic per subtask, enough for spreading records. */
function xorshift(seed: number): () => number {
  let x = (seed * 0x9e3779b1 + 1) | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

function channelSelector(o: RecordWriterOptions, n: number): (record: unknown) => number {
  switch (o.partitioner) {
    case "forward":
    case "broadcast":
      return () => 0;
    case "rebalance":
    case "rescale": {
      // Start at a subtask-dependent channel so producers do not all hit channel 0 first.
      let next = o.subtaskIndex % n;
      return () => {
        const c = next;
        next = next + 1 === n ? 0 : next + 1;
        return c;
      };
    }
    case "shuffle": {
      const rnd = xorshift(o.subtaskIndex + 1);
      return () => rnd() % n;
    }
    case "hash": {
      const key = o.keySelector;
      if (!key) throw new Error("hash partitioning needs a key selector");
      const maxP = o.maxParallelism;
      return (record) => operatorIndexForKeyGroup(murmur3Key(key(record)) % maxP, n, maxP);
    }
  }
}
