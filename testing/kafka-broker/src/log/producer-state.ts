import { ErrorCode, type ErrorCodeValue } from "../protocol/errors.js";
import { type BatchHeader, lastSequence } from "../protocol/record-batch.js";

/** Batches remembered per producer for duplicate detection (Kafka's max.in.flight limit for idempotence). */
const REMEMBERED_BATCHES = 5;
const NO_EPOCH = -1;

interface BatchMeta {
  firstSeq: number;
  lastSeq: number;
  baseOffset: number;
}

interface ProducerEntry {
  epoch: number;
  /** The last few batches, oldest first. */
  batches: BatchMeta[];
}

export type SequenceCheck =
  | { kind: "append" }
  /** A retry of a batch already in the log: acknowledged again with its first offset, not stored twice. */
  | { kind: "duplicate"; baseOffset: number }
  | { kind: "reject"; code: ErrorCodeValue; message: string };

/**
 * The idempotent producer's sequence checks for one partition (Kafka's ProducerStateManager): each
 * producer id writes batches whose sequence numbers continue the previous batch's; a retried batch
 * is recognised and not written twice; a batch of an older epoch is fenced. Rebuilt from the log at
 * startup, so the checks hold across a restart.
 */
export class ProducerStateTable {
  private readonly producers = new Map<number, ProducerEntry>();

  check(h: BatchHeader): SequenceCheck {
    const entry = this.producers.get(h.producerId);
    const epoch = entry?.epoch ?? NO_EPOCH;
    if (h.producerEpoch < epoch)
      return {
        kind: "reject",
        code: ErrorCode.INVALID_PRODUCER_EPOCH,
        message: `producer ${h.producerId} has epoch ${h.producerEpoch}, the partition has seen ${epoch}`,
      };
    if (h.baseSequence < 0) return { kind: "reject", code: ErrorCode.INVALID_RECORD, message: "an idempotent batch needs a base sequence" };
    if (h.producerEpoch > epoch || !entry) {
      if (h.baseSequence === 0) return { kind: "append" };
      return epoch === NO_EPOCH
        ? {
            kind: "reject",
            code: ErrorCode.UNKNOWN_PRODUCER_ID,
            message: `producer ${h.producerId} is unknown here and starts at sequence ${h.baseSequence}, not 0`,
          }
        : {
            kind: "reject",
            code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
            message: `new epoch ${h.producerEpoch} of producer ${h.producerId} starts at sequence ${h.baseSequence}, not 0`,
          };
    }
    const last = lastSequence(h);
    const duplicate = entry.batches.find((b) => b.firstSeq === h.baseSequence && b.lastSeq === last);
    if (duplicate) return { kind: "duplicate", baseOffset: duplicate.baseOffset };
    const previous = entry.batches.at(-1);
    const expected = previous ? (previous.lastSeq + 1) % 2 ** 31 : 0;
    if (h.baseSequence !== expected)
      return {
        kind: "reject",
        code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        message: `producer ${h.producerId} sent sequence ${h.baseSequence}, the partition expects ${expected}`,
      };
    return { kind: "append" };
  }

  /** Records a batch appended at `baseOffset`. */
  record(h: BatchHeader, baseOffset: number): void {
    let entry = this.producers.get(h.producerId);
    if (!entry || h.producerEpoch > entry.epoch) {
      entry = { epoch: h.producerEpoch, batches: [] };
      this.producers.set(h.producerId, entry);
    }
    entry.batches.push({ firstSeq: h.baseSequence, lastSeq: lastSequence(h), baseOffset });
    if (entry.batches.length > REMEMBERED_BATCHES) entry.batches.shift();
  }

  /** A transaction marker of `epoch`: a newer epoch fences the older one and restarts the sequences. */
  recordMarker(producerId: number, epoch: number): void {
    const entry = this.producers.get(producerId);
    if (!entry || epoch > entry.epoch) this.producers.set(producerId, { epoch, batches: [] });
  }
}
