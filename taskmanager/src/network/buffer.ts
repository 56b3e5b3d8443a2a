/**
 * What travels through a channel: a batch of records, or an in-band event.
 *
 * A producer's buffer holds the records themselves: a consumer on the same TaskManager takes them as
 * they are, and only a remote view encodes them (msgpackr) when it sends. A buffer received from
 * another TaskManager holds the encoded bytes until the task decodes them.
 *
 * A batch may carry the records' event timestamps in a parallel array, present only when at least one
 * record of the batch has one; NaN marks a record without a timestamp (see `timestampOf`). Batches
 * without timestamps carry none, so records without event time cost nothing extra.
 */
export type NetworkBuffer = DataBuffer | { readonly type: "END_OF_PARTITION" } | CheckpointBarrier | WatermarkEvent | WatermarkStatusEvent;

export type DataBuffer =
  | { readonly type: "DATA"; readonly records: unknown[]; readonly timestamps: number[] | undefined; readonly data?: undefined }
  | { readonly type: "DATA"; readonly data: Buffer; readonly timestamps: Float64Array | undefined; readonly records?: undefined };

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

export const END_OF_PARTITION: NetworkBuffer = { type: "END_OF_PARTITION" };

/** The timestamp stored for a record: NaN (no timestamp) reads as undefined. */
export function timestampOf(stored: number): number | undefined {
  return Number.isNaN(stored) ? undefined : stored;
}

/**
 * Timestamps for `n` records without one, to which a batch's later timestamps are appended. Pushed one
 * by one so the array stays packed doubles (a preallocated `new Array(n)` would be holey, slower to read).
 */
export function untimed(n: number): number[] {
  const ts: number[] = [];
  for (let i = 0; i < n; i++) ts.push(Number.NaN);
  return ts;
}
