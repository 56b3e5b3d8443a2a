/**
 * What travels through a channel: a batch of records, or an in-band event.
 *
 * A producer's buffer holds the records themselves: a consumer on the same TaskManager takes them as
 * they are, and only a remote view encodes them (msgpackr) when it sends. A buffer received from
 * another TaskManager holds the encoded bytes until the task decodes them.
 */
export type NetworkBuffer =
  | { readonly type: "DATA"; readonly records: unknown[]; readonly data?: undefined }
  | { readonly type: "DATA"; readonly data: Buffer; readonly records?: undefined }
  | { readonly type: "END_OF_PARTITION" }
  | CheckpointBarrier;

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

export const END_OF_PARTITION: NetworkBuffer = { type: "END_OF_PARTITION" };
