import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "@riffle/shared";
import { ErrorCode, KafkaError } from "../protocol/errors.js";
import { type BatchHeader, LOG_OVERHEAD, assignOffset, controlBatch, controlBatchCommits, readBatch, recordTimestamps } from "../protocol/record-batch.js";
import { DurableFile } from "./durable-file.js";
import { ProducerStateTable } from "./producer-state.js";

interface BatchEntry {
  baseOffset: number;
  lastOffset: number;
  position: number;
  size: number;
  maxTimestamp: number;
}

/** A transaction that was aborted in this partition: read_committed consumers skip its batches. */
export interface AbortedTransaction {
  producerId: number;
  firstOffset: number;
  /** Offset of the abort marker. */
  lastOffset: number;
}

export type IsolationLevel = "read_uncommitted" | "read_committed";

export interface AppendResult {
  baseOffset: number;
  /** Resolves once the batch is on disk (and visible to consumers: the high watermark passed it). */
  durable: Promise<void>;
}

/**
 * One partition's log: record batches appended to a single file (`<topic>-<partition>/00000000000000000000.log`,
 * Kafka's layout, without segment rolling or retention) and an in-memory index of the batches.
 *
 * Offsets:
 * ```
 *   0 ........ lastStableOffset ........ highWatermark ........ logEndOffset
 *   |  decided  | open transactions from |  synced to disk       | written, fsync under way
 * ```
 * The high watermark is the end of what is on disk, so a consumer never sees a record a crash could
 * take back. The last stable offset stops at the first record of the oldest open transaction;
 * read_committed fetches stop there.
 */
export class PartitionLog {
  private readonly batches: BatchEntry[] = [];
  private readonly file: DurableFile;
  private leo = 0;
  private hw = 0;
  private readonly producers = new ProducerStateTable();
  /** Producer id → first offset of its open transaction in this partition. */
  private readonly ongoing = new Map<number, number>();
  private readonly aborted: AbortedTransaction[] = [];
  private readonly listeners = new Set<() => void>();

  private constructor(
    readonly topic: string,
    readonly partition: number,
    readonly dir: string,
    fsync: boolean,
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = new DurableFile(join(dir, "00000000000000000000.log"), fsync);
  }

  /** Opens (or creates) the partition's log and rebuilds its index, producer and transaction state. */
  static open(dataDir: string, topic: string, partition: number, fsync: boolean, logger: Logger): PartitionLog {
    const log = new PartitionLog(topic, partition, join(dataDir, `${topic}-${partition}`), fsync);
    log.recover(logger);
    return log;
  }

  private recover(logger: Logger): void {
    let position = 0;
    const size = this.file.size;
    while (position < size) {
      const problem = this.recoverBatch(position, size);
      if (typeof problem === "string") {
        // A batch cut short or damaged by a crash was never acknowledged: the log ends before it.
        logger.warn({ topic: this.topic, partition: this.partition, position, size, problem }, "truncating the log at a torn or damaged batch");
        this.file.truncate(position);
        break;
      }
      position += problem;
    }
    this.hw = this.leo;
  }

  /** Indexes the batch at `position`; returns its size, or what is wrong with it. */
  private recoverBatch(position: number, fileSize: number): number | string {
    if (fileSize - position < LOG_OVERHEAD) return "incomplete batch header";
    const head = this.file.read(position, LOG_OVERHEAD);
    const batchSize = LOG_OVERHEAD + head.readInt32BE(8);
    if (batchSize <= LOG_OVERHEAD || fileSize - position < batchSize) return "incomplete batch";
    const bytes = this.file.read(position, batchSize);
    let h: BatchHeader | "incomplete";
    try {
      h = readBatch(bytes, 0);
    } catch (err) {
      return (err as Error).message;
    }
    if (h === "incomplete") return "incomplete batch";
    if (h.baseOffset !== this.leo) return `batch at offset ${h.baseOffset} where ${this.leo} was expected`;
    this.index(h, position);
    if (h.control) this.applyMarker(h.producerId, h.producerEpoch, controlBatchCommits(bytes, h), h.baseOffset);
    else if (h.producerId >= 0) {
      this.producers.record(h, h.baseOffset);
      if (h.transactional && !this.ongoing.has(h.producerId)) this.ongoing.set(h.producerId, h.baseOffset);
    }
    return batchSize;
  }

  private index(h: BatchHeader, position: number): void {
    const lastOffset = h.baseOffset + h.lastOffsetDelta;
    this.batches.push({ baseOffset: h.baseOffset, lastOffset, position, size: h.size, maxTimestamp: h.maxTimestamp });
    this.leo = lastOffset + 1;
  }

  private applyMarker(producerId: number, epoch: number, commit: boolean, offset: number): void {
    this.producers.recordMarker(producerId, epoch);
    const firstOffset = this.ongoing.get(producerId);
    if (firstOffset === undefined) return;
    this.ongoing.delete(producerId);
    if (!commit) this.aborted.push({ producerId, firstOffset, lastOffset: offset });
  }

  get logStartOffset(): number {
    return 0;
  }

  get logEndOffset(): number {
    return this.leo;
  }

  get highWatermark(): number {
    return this.hw;
  }

  get lastStableOffset(): number {
    let lso = this.hw;
    for (const first of this.ongoing.values()) lso = Math.min(lso, first);
    return lso;
  }

  /**
   * Appends a batch a producer sent (already validated: see validateProducedBatch), after the
   * idempotence checks. The caller checks transactional batches against the transaction coordinator.
   */
  append(records: Buffer, h: BatchHeader): AppendResult {
    if (h.producerId >= 0) {
      const check = this.producers.check(h);
      if (check.kind === "reject") throw new KafkaError(check.code, check.message);
      if (check.kind === "duplicate") return { baseOffset: check.baseOffset, durable: this.file.sync() };
    }
    const baseOffset = this.leo;
    assignOffset(records, 0, baseOffset);
    const position = this.file.append([records]);
    this.index({ ...h, baseOffset }, position);
    if (h.producerId >= 0) {
      this.producers.record(h, baseOffset);
      if (h.transactional && !this.ongoing.has(h.producerId)) this.ongoing.set(h.producerId, baseOffset);
    }
    return { baseOffset, durable: this.syncUpTo(this.leo) };
  }

  /** Writes a transaction marker for `producerId`, ending its open transaction in this partition. */
  appendMarker(producerId: number, producerEpoch: number, commit: boolean, timestamp: number): AppendResult {
    const baseOffset = this.leo;
    const batch = controlBatch({ baseOffset, producerId, producerEpoch, commit, timestamp });
    const position = this.file.append([batch]);
    this.batches.push({ baseOffset, lastOffset: baseOffset, position, size: batch.length, maxTimestamp: timestamp });
    this.leo = baseOffset + 1;
    this.applyMarker(producerId, producerEpoch, commit, baseOffset);
    return { baseOffset, durable: this.syncUpTo(this.leo) };
  }

  private syncUpTo(offset: number): Promise<void> {
    return this.file.sync().then(() => {
      if (offset <= this.hw) return;
      this.hw = offset;
      for (const listener of [...this.listeners]) listener();
    });
  }

  /** Calls `listener` whenever the high watermark moves; returns the unsubscribe function. */
  onAdvance(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The stored batches from the one holding `fetchOffset`, up to the high watermark (or the last
   * stable offset for read_committed) and `maxBytes`, but at least one whole batch (KIP-74); and the
   * offset after the last record returned.
   */
  read(fetchOffset: number, maxBytes: number, isolation: IsolationLevel): { records: Buffer; nextOffset: number } | null {
    if (fetchOffset < this.logStartOffset || fetchOffset > this.leo)
      throw new KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE, `offset ${fetchOffset} is outside ${this.topic}-${this.partition}'s log [0, ${this.leo}]`);
    const bound = isolation === "read_committed" ? this.lastStableOffset : this.hw;
    let i = this.firstBatchEndingAtOrAfter(fetchOffset);
    const first = this.batches[i];
    if (!first || first.lastOffset >= bound) return null;
    let size = 0;
    let nextOffset = fetchOffset;
    for (; i < this.batches.length; i++) {
      const b = this.batches[i]!;
      if (b.lastOffset >= bound || (size > 0 && size + b.size > maxBytes)) break;
      size += b.size;
      nextOffset = b.lastOffset + 1;
    }
    return { records: this.file.read(first.position, size), nextOffset };
  }

  /** Aborted transactions that overlap [from, to): what a read_committed consumer must skip there. */
  abortedTransactions(from: number, to: number): AbortedTransaction[] {
    return this.aborted.filter((a) => a.lastOffset >= from && a.firstOffset < to);
  }

  /** The first offset whose record has a timestamp at or after `timestamp` (ListOffsets by time). */
  offsetForTimestamp(timestamp: number): { offset: number; timestamp: number } | null {
    for (const b of this.batches) {
      if (b.maxTimestamp < timestamp || b.baseOffset >= this.hw) continue;
      const bytes = this.file.read(b.position, b.size);
      const h = readBatch(bytes, 0);
      if (h === "incomplete" || h.control) continue;
      const hit = recordTimestamps(bytes, h).find((r) => r.timestamp >= timestamp);
      if (hit) return hit;
    }
    return null;
  }

  private firstBatchEndingAtOrAfter(offset: number): number {
    let lo = 0;
    let hi = this.batches.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.batches[mid]!.lastOffset < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
