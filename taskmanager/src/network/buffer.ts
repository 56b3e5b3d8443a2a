/**
 * What travels through a channel: record data, or an in-band event, in order.
 *
 * A producer's subpartition queues `SegmentBuffer`s: a network segment holding `length` bytes of record
 * frames (see serialization.ts). A reader in the same slot decodes the segment in place and returns it
 * to the pool; a reader elsewhere gets a copy of its bytes (one transferable ArrayBuffer) and the
 * segment returns to the pool at once. Channels hand their gate `DecodedData`: the records of one
 * buffer (possibly none, when the buffer held only part of a record or a structures frame).
 */
export type QueuedBuffer = SegmentBuffer | NetworkEvent;

export interface SegmentBuffer {
  readonly type: "DATA";
  readonly segment: Buffer;
  readonly length: number;
}

/** What a channel gives its gate: decoded records or an event. */
export type InputItem = DecodedData | NetworkEvent;

export interface DecodedData {
  readonly type: "DATA";
  readonly records: unknown[];
  /** The records' event timestamps (NaN: none), present only when a record of the buffer has one. */
  readonly timestamps: number[] | undefined;
  /** Bytes of frames the buffer held (numBytesIn). */
  readonly bytes: number;
}

export type NetworkEvent = EndOfPartition | CheckpointBarrier | WatermarkEvent | WatermarkStatusEvent;

export interface EndOfPartition {
  readonly type: "END_OF_PARTITION";
}

/**
 * Barrier n (Chandy-Lamport, as in Flink): every record before it belongs to checkpoint n, every
 * record after it to n+1. It carries where the tasks write their state for n.
 */
export interface CheckpointBarrier {
  readonly type: "CHECKPOINT_BARRIER";
  readonly checkpointId: number;
  readonly timestamp: number;
  readonly targetDir: string;
  readonly isSavepoint: boolean;
}

/** Event time reached `timestamp` on this channel: no record with a timestamp <= it follows. */
export interface WatermarkEvent {
  readonly type: "WATERMARK";
  readonly timestamp: number;
}

/** The channel went idle (its consumer leaves it out of the watermark) or active again. */
export interface WatermarkStatusEvent {
  readonly type: "WATERMARK_STATUS";
  readonly idle: boolean;
}

export const END_OF_PARTITION: EndOfPartition = { type: "END_OF_PARTITION" };

/** The timestamp stored for a record: NaN (no timestamp) reads as undefined. */
export function timestampOf(stored: number): number | undefined {
  return Number.isNaN(stored) ? undefined : stored;
}
