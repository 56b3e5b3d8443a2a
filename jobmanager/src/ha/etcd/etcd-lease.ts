import type { Cancel, Clock, Logger } from "@riffle/shared";
import { castGrpcError, GRPCCancelledError, GRPCDeadlineExceededError, type ILeaseKeepAliveResponse } from "etcd3";
import type { EtcdConnection } from "./etcd-connection.js";

export type LeaseLossReason = "LEASE_NOT_RENEWED" | "LEASE_EXPIRED" | "RELEASED";

/**
 * An etcd lease kept alive by this process, with a deadline it knows locally.
 *
 * etcd lets a lease expire `TTL` after the last keep-alive it received. This process measures from
 * when it *sent* the keep-alive (never later than etcd received it), so its deadline `sentAt + TTL`
 * comes before etcd's, and etcd checks for expired leases only every 500 ms on top. A margin of a
 * sixth of the TTL before that deadline absorbs a late timer. So when the lease is given up here
 * (LEASE_NOT_RENEWED), etcd still holds it, and nobody else can have been elected yet.
 *
 *   keep-alive sent at s ─── answered (whenever) ──► valid until s + TTL − TTL/6
 *   keep-alive sent at s + TTL/6 ─── … (one every sixth of the TTL, answered or not)
 *   no answer to any keep-alive sent after s, by s + TTL − TTL/6 ──► lost, at once
 *
 * Keep-alives do not wait for each other: under load etcd may take longer than the call timeout to
 * answer one, and such an answer still renews the lease (from when it was sent). Renewals that waited
 * for each other, each cut off after the call timeout, made a leader step down whenever etcd took
 * about that long, although etcd renewed its lease every time.
 *
 * The etcd3 client's own Lease notices a lost lease only after 2 × TTL without keep-alives, too
 * late for leadership, hence this class.
 */
export class EtcdLease {
  /** Local time by which etcd can have let the lease expire, at the earliest. */
  private expiresAt: number;
  /** When the keep-alive (or grant) that set `expiresAt` was sent. */
  private renewedAt: number;
  private lostReason: LeaseLossReason | undefined;
  private cancelRenewal: Cancel | undefined;
  private cancelExpiry: Cancel | undefined;
  private readonly listeners: Array<(reason: LeaseLossReason, detail: string) => void> = [];
  private revoking: Promise<boolean> | undefined;
  /** A failed renewal is reported once, until one succeeds again. */
  private renewalFailing = false;
  /** The keep-alives still waiting for their answer: when each was sent, and how to drop it. */
  private readonly inFlight = new Set<{ sentAt: number; drop: AbortController }>();
  /** Why the last keep-alive failed, until one succeeds: for the step-down's log line. */
  private lastFailure: string | undefined;

  private constructor(
    private readonly conn: EtcdConnection,
    /** Decimal, as etcd's API carries it. */
    readonly id: string,
    /** The TTL etcd granted (it raises requests below its minimum). */
    readonly ttlMs: number,
    sentAt: number,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.expiresAt = sentAt + ttlMs;
    this.renewedAt = sentAt;
    this.scheduleExpiry();
    this.scheduleRenewal(sentAt + this.renewEveryMs);
  }

  /** Asks etcd for a lease of `ttlMs` (whole seconds) and keeps it alive. */
  static async grant(conn: EtcdConnection, ttlMs: number, clock: Clock, logger: Logger): Promise<EtcdLease> {
    const sentAt = clock.now();
    const res = await conn.call("grant a lease", (options) => conn.client.leaseClient.leaseGrant({ TTL: Math.ceil(ttlMs / 1000), ID: 0 }, options));
    return new EtcdLease(conn, String(res.ID), Number(res.TTL) * 1000, sentAt, clock, logger);
  }

  /** When the last keep-alive that etcd answered (or the grant) was sent, on the clock. */
  get lastRenewedAt(): number {
    return this.renewedAt;
  }

  /** The lease id in hex, as etcdctl prints it and as election keys name it. */
  get hexId(): string {
    return BigInt(this.id).toString(16);
  }

  /**
   * Keep-alives go out every sixth of the TTL (etcd's own clients send one every third): a renewal
   * that comes late or fails costs less of the five sixths a leader may go without one, so a stall or
   * an etcd raft election of up to two thirds of the TTL never costs a leadership.
   */
  get renewEveryMs(): number {
    return this.ttlMs / 6;
  }

  /** Local time after which this process no longer counts on the lease. */
  get validUntil(): number {
    return this.expiresAt - this.ttlMs / 6;
  }

  /** Whether the lease certainly still lives in etcd, judged by this process's clock. */
  isValid(): boolean {
    return this.lostReason === undefined && this.clock.now() < this.validUntil;
  }

  get lost(): LeaseLossReason | undefined {
    return this.lostReason;
  }

  /** Called once, synchronously, when the lease is lost (not for `release`/`revoke`). */
  onLost(listener: (reason: LeaseLossReason, detail: string) => void): void {
    this.listeners.push(listener);
  }

  /** Stops renewing; etcd lets the lease expire after its TTL. */
  release(): void {
    this.stop("RELEASED");
  }

  /**
   * Stops renewing and revokes the lease in etcd, so its keys vanish at once. Resolves true when the
   * lease is gone from etcd, false when etcd could not be asked (the lease then expires by itself);
   * never rejects.
   */
  revoke(): Promise<boolean> {
    this.stop("RELEASED");
    this.revoking ??= revokeLease(this.conn, this.id).then(
      () => true,
      (err: Error) => {
        this.logger.warn({ leaseId: this.hexId, err: err.message }, "could not revoke the lease; it expires by itself");
        return false;
      },
    );
    return this.revoking;
  }

  private stop(reason: LeaseLossReason): boolean {
    if (this.lostReason !== undefined) return false;
    this.lostReason = reason;
    this.cancelRenewal?.();
    this.cancelExpiry?.();
    // A keep-alive answered after this would only hold a given-up lease (and its election key) longer.
    for (const k of this.inFlight) k.drop.abort();
    return true;
  }

  private lose(reason: LeaseLossReason, detail: string): void {
    if (!this.stop(reason)) return;
    for (const listener of this.listeners) listener(reason, detail);
  }

  /**
   * Keep-alives go out on a fixed cadence, whether or not earlier ones were answered: one that etcd
   * is slow to answer (a slow disk, a loaded machine) holds no later one up, and still renews the
   * lease from when it was sent once it is answered. Each waits as long as an answer could still
   * help (until the lease's local deadline), not a shorter call timeout.
   */
  private scheduleRenewal(at: number): void {
    this.cancelRenewal?.();
    this.cancelRenewal = this.clock.schedule(
      () => {
        if (this.lostReason !== undefined) return;
        this.scheduleRenewal(this.clock.now() + this.renewEveryMs);
        void this.renew();
      },
      Math.max(0, at - this.clock.now()),
    );
  }

  private scheduleExpiry(): void {
    this.cancelExpiry?.();
    const dueAt = this.validUntil;
    this.cancelExpiry = this.clock.schedule(
      () => {
        if (this.lostReason !== undefined) return;
        if (this.clock.now() < this.validUntil) {
          this.scheduleExpiry();
          return;
        }
        // A timer that fires late runs before the answers that arrived while the event loop was busy
        // (timers come before I/O in each turn): when one of them could still renew the lease, let
        // them in first, then decide. Meanwhile isValid() is false, so nothing acts as leader.
        const now = this.clock.now();
        const couldRenew = [...this.inFlight].some((k) => now < k.sentAt + this.ttlMs - this.ttlMs / 6);
        if (!couldRenew) {
          this.lose("LEASE_NOT_RENEWED", this.whyNotRenewed(now, dueAt));
          return;
        }
        this.cancelExpiry = this.clock.schedule(() => {
          if (this.lostReason !== undefined) return;
          const now = this.clock.now();
          if (now < this.validUntil) this.scheduleExpiry();
          else this.lose("LEASE_NOT_RENEWED", this.whyNotRenewed(now, dueAt));
        }, 0);
      },
      Math.max(0, dueAt - this.clock.now()),
    );
  }

  /** What a step-down's log line says: enough to tell a slow etcd from a blocked event loop. */
  private whyNotRenewed(now: number, dueAt: number): string {
    const parts = [`lease ${this.hexId} (TTL ${this.ttlMs} ms) was last renewed by a keep-alive sent ${now - this.renewedAt} ms ago`];
    if (this.inFlight.size > 0)
      parts.push(`${this.inFlight.size} keep-alive(s) unanswered, the oldest sent ${now - Math.min(...[...this.inFlight].map((k) => k.sentAt))} ms ago`);
    if (this.lastFailure) parts.push(`last keep-alive failure: ${this.lastFailure}`);
    const late = now - dueAt;
    if (late > this.renewEveryMs) parts.push(`the event loop was blocked: the expiry check ran ${late} ms late`);
    return parts.join("; ");
  }

  private async renew(): Promise<void> {
    if (this.lostReason !== undefined) return;
    const sentAt = this.clock.now();
    if (sentAt >= this.validUntil) return; // the expiry timer is due
    // An answer renews the lease from when its keep-alive was sent: it helps until then + 5/6 TTL,
    // however late the answers to the earlier keep-alives are.
    const budget = this.ttlMs - this.ttlMs / 6;
    const keepAlive = { sentAt, drop: new AbortController() };
    this.inFlight.add(keepAlive);
    try {
      const res = await keepAliveOnce(this.conn, this.id, budget, this.clock, keepAlive.drop.signal);
      if (this.lostReason !== undefined) return;
      if (Number(res.TTL) <= 0) {
        this.lose("LEASE_EXPIRED", `etcd reports lease ${this.hexId} expired`);
        return;
      }
      if (this.renewalFailing) this.logger.info({ leaseId: this.hexId }, "lease renewed again");
      this.renewalFailing = false;
      this.lastFailure = undefined;
      if (sentAt + Number(res.TTL) * 1000 > this.expiresAt) {
        this.expiresAt = sentAt + Number(res.TTL) * 1000;
        this.renewedAt = sentAt;
        this.scheduleExpiry();
      }
    } catch (err) {
      if (this.lostReason !== undefined) return;
      const e = this.conn.failure("renew the lease", err, budget);
      this.lastFailure = e.message;
      if (!this.renewalFailing) {
        this.logger.warn({ leaseId: this.hexId, err: e.message, validForMs: this.validUntil - this.clock.now() }, "lease renewal failed; retrying");
      }
      this.renewalFailing = true;
      // A quick failure (etcd refused the connection) is retried sooner than the cadence.
      const retryAt = this.clock.now() + Math.max(50, this.ttlMs / 10);
      if (this.inFlight.size === 1 && retryAt < sentAt + this.renewEveryMs) this.scheduleRenewal(retryAt);
    } finally {
      this.inFlight.delete(keepAlive);
    }
  }
}

/**
 * One keep-alive on a stream of its own, closed after the answer. The stream carries no gRPC
 * deadline: the etcd3 client would count an expired one against the endpoint (its circuit breaker)
 * and reset every connection to it, which only slows the next keep-alives down. Instead the stream is
 * closed (ended, then cancelled: a stream no longer writable is not reported) after `timeoutMs`.
 */
async function keepAliveOnce(conn: EtcdConnection, id: string, timeoutMs: number, clock: Clock, drop: AbortSignal): Promise<ILeaseKeepAliveResponse> {
  const stream = await conn.client.leaseClient.leaseKeepAlive();
  return new Promise((resolve, reject) => {
    const close = (err: Error) => {
      cancelTimer();
      drop.removeEventListener("abort", onDrop);
      reject(err);
      stream.end();
      stream.cancel();
    };
    const onDrop = () => close(new GRPCCancelledError("the keep-alive was dropped: the lease is given up"));
    const cancelTimer = clock.schedule(() => close(new GRPCDeadlineExceededError(`no answer to the keep-alive within ${Math.round(timeoutMs)} ms`)), timeoutMs);
    if (drop.aborted) return onDrop();
    drop.addEventListener("abort", onDrop, { once: true });
    const settle = () => {
      cancelTimer();
      drop.removeEventListener("abort", onDrop);
    };
    stream.on("data", (res) => {
      settle();
      resolve(res);
      stream.end();
    });
    stream.on("error", (err) => {
      settle();
      reject(castGrpcError(err));
    });
    stream.on("end", () => {
      settle();
      reject(new GRPCCancelledError("the keep-alive stream ended without an answer"));
    });
    stream.write({ ID: id });
  });
}

/** Revokes lease `id` (decimal); a lease that is already gone counts as revoked. */
export async function revokeLease(conn: EtcdConnection, id: string): Promise<void> {
  try {
    await conn.call("revoke a lease", (options) => conn.client.leaseClient.leaseRevoke({ ID: id }, options));
  } catch (err) {
    if (!/requested lease not found/.test((err as Error).message)) throw err;
  }
}
