import type { OffsetCommit } from "../groups/offset-store.js";

/**
 * A transactional id's state, as Kafka's transaction coordinator keeps it:
 *
 * ```
 *                 AddPartitionsToTxn / AddOffsetsToTxn           EndTxn(commit)
 *   Empty ─────────────────────────────────────────▶ Ongoing ───────────────▶ PrepareCommit ──▶ CompleteCommit
 *     ▲  ▲                                             │  EndTxn(abort), timeout,                        │
 *     │  └── InitProducerId (epoch + 1) ◀──────────────┼─ InitProducerId of a new instance               │
 *     │                                                ▼                                                 │
 *     └──────────────────────────── CompleteAbort ◀── PrepareAbort                                        │
 *                    (and from CompleteCommit: InitProducerId, or the next transaction's first add) ◀─────┘
 * ```
 * Prepare states are journaled before the markers are written, so a restart finishes what they began.
 */
export type TransactionState = "Empty" | "Ongoing" | "PrepareCommit" | "PrepareAbort" | "CompleteCommit" | "CompleteAbort";

export const TRANSITIONS: Record<TransactionState, readonly TransactionState[]> = {
  Empty: ["Empty", "Ongoing"],
  Ongoing: ["Ongoing", "PrepareCommit", "PrepareAbort"],
  PrepareCommit: ["CompleteCommit"],
  PrepareAbort: ["CompleteAbort"],
  CompleteCommit: ["Empty", "Ongoing"],
  CompleteAbort: ["Empty", "Ongoing"],
};

export interface TransactionMetadata {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  timeoutMs: number;
  state: TransactionState;
  /** Partitions written in the current transaction, as `topic` and `partition`. */
  partitions: Array<{ topic: string; partition: number }>;
  /** Offsets to commit with the transaction, per consumer group (AddOffsetsToTxn adds the group). */
  offsets: Record<string, OffsetCommit[]>;
  /** When the current transaction began (its first AddPartitionsToTxn or AddOffsetsToTxn). */
  startedAt: number;
}

export function hasPartition(meta: TransactionMetadata, topic: string, partition: number): boolean {
  return meta.partitions.some((p) => p.topic === topic && p.partition === partition);
}
