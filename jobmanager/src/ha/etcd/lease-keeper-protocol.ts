/** Messages and shared memory between the lease keeper (main thread) and its worker. */

/** What the worker needs to reach etcd, and the cell the main thread beats in. */
export interface LeaseKeeperInit {
  endpoints: string[];
  clusterId: string;
  callTimeoutMs: number;
  /** BigInt64Array[1]: the main thread's last beat (monotonicMs). */
  beat: SharedArrayBuffer;
}

export type ToLeaseKeeper =
  /** Keep lease `id` alive; renewals go into `cells` (BigInt64Array[2], see EXPIRES_AT and OLDEST_UNANSWERED). */
  { type: "keep"; id: string; ttlMs: number; renewedAt: number; cells: SharedArrayBuffer } | { type: "drop"; id: string } | { type: "close" };

export type FromLeaseKeeper =
  | { type: "ready" }
  | { type: "expired"; id: string }
  | { type: "failed"; id: string; message: string; first: boolean }
  | { type: "recovered"; id: string };

/**
 * Lease times, in both threads: milliseconds on the process's monotonic clock (CLOCK_MONOTONIC, the
 * same in every thread). A step of the wall clock (NTP, a VM resumed) must neither depose a leader nor
 * let a deposed one believe it still leads.
 */
export const monotonicMs = (): number => Number(process.hrtime.bigint() / 1000n) / 1000;

/** Cell of a lease: when etcd can let it expire at the earliest (monotonicMs). */
export const EXPIRES_AT = 0;
/** Cell of a lease: when the oldest unanswered keep-alive was sent (monotonicMs), 0 when none is. */
export const OLDEST_UNANSWERED = 1;
/** Cell of the beat buffer. */
export const MAIN_BEAT = 0;
/** The worker stops renewing once the main thread has not beaten for this many TTLs (8 s at the default 2 s). */
export const MAIN_STALL_TTLS = 4;
