import type { Cancel, Clock, Logger } from "@riffle/shared";
import type { EtcdConnection } from "./etcd-connection.js";
import type { KeptLease, LeaseKeeper } from "./lease-keeper.js";
import { monotonicMs } from "./lease-keeper-protocol.js";

export type LeaseLossReason = "LEASE_NOT_RENEWED" | "LEASE_EXPIRED" | "RELEASED";

/**
 * An etcd lease held by this process, with a deadline it knows locally.
 *
 * etcd lets a lease expire `TTL` after the last keep-alive it received. Keep-alives are sent by the
 * lease keeper's thread (LeaseKeeper, LeaseRenewal: one every sixth of the TTL, not waiting for each
 * other), which measures from when it *sent* each one (never later than etcd received it), so the
 * deadline `sentAt + TTL` it shares comes before etcd's, and etcd checks for expired leases only every
 * 500 ms on top. This class gives the lease up a sixth of the TTL before that deadline, which absorbs
 * a late timer. So when the lease is given up here (LEASE_NOT_RENEWED), etcd still holds it, and
 * nobody else can have been elected yet.
 *
 *   keep-alive sent at s ─── answered (whenever) ──► valid until s + TTL − TTL/6
 *   keep-alive sent at s + TTL/6 ─── … (one every sixth of the TTL, answered or not)
 *   no answer to any keep-alive sent after s, by s + TTL − TTL/6 ──► lost, at once
 *
 * The etcd3 client's own Lease notices a lost lease only after 2 × TTL without keep-alives, too
 * late for leadership, hence this class.
 *
 * Its deadlines are on the process's monotonic clock (`monotonicMs`), its timers on the injected
 * clock: a step of the wall clock must neither depose a leader nor let a deposed one go on.
 */
export class EtcdLease {
  private lostReason: LeaseLossReason | undefined;
  private cancelExpiry: Cancel | undefined;
  private readonly listeners: Array<(reason: LeaseLossReason, detail: string) => void> = [];
  private revoking: Promise<boolean> | undefined;
  /** Why the last keep-alive failed, until one succeeds: for logs and the step-down's detail. */
  private lastFailure: string | undefined;
  private readonly kept: KeptLease;

  private constructor(
    private readonly conn: EtcdConnection,
    keeper: LeaseKeeper,
    /** Decimal, as etcd's API carries it. */
    readonly id: string,
    /** The TTL etcd granted (it raises requests below its minimum). */
    readonly ttlMs: number,
    sentAt: number,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.kept = keeper.keep(id, ttlMs, sentAt, {
      expired: () => this.lose("LEASE_EXPIRED", `etcd reports lease ${this.hexId} expired`),
      failed: (message, first) => {
        this.lastFailure = message;
        if (first)
          this.logger.warn({ leaseId: this.hexId, err: message, validForMs: Math.round(this.validUntil - monotonicMs()) }, "lease renewal failed; retrying");
      },
      recovered: () => {
        this.lastFailure = undefined;
        this.logger.info({ leaseId: this.hexId }, "lease renewed again");
      },
    });
    this.scheduleExpiry();
  }

  /** Asks etcd for a lease of `ttlMs` (whole seconds); `keeper` keeps it alive. */
  static async grant(conn: EtcdConnection, keeper: LeaseKeeper, ttlMs: number, clock: Clock, logger: Logger): Promise<EtcdLease> {
    const sentAt = monotonicMs();
    const res = await conn.call("grant a lease", (options) => conn.client.leaseClient.leaseGrant({ TTL: Math.ceil(ttlMs / 1000), ID: 0 }, options));
    return new EtcdLease(conn, keeper, String(res.ID), Number(res.TTL) * 1000, sentAt, clock, logger);
  }

  /** When the last keep-alive that etcd answered (or the grant) was sent, on the injected clock (for metrics). */
  get lastRenewedAt(): number {
    return Math.round(this.clock.now() - (monotonicMs() - this.renewedAtMono));
  }

  /** The same, on the monotonic clock. */
  private get renewedAtMono(): number {
    return this.kept.expiresAt() - this.ttlMs;
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

  /** Monotonic time (monotonicMs) after which this process no longer counts on the lease. */
  get validUntil(): number {
    return this.kept.expiresAt() - this.ttlMs / 6;
  }

  /** Whether the lease certainly still lives in etcd, judged by this process's clock. */
  isValid(): boolean {
    return this.lostReason === undefined && monotonicMs() < this.validUntil;
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
    this.cancelExpiry?.();
    this.kept.drop();
    return true;
  }

  private lose(reason: LeaseLossReason, detail: string): void {
    if (!this.stop(reason)) return;
    for (const listener of this.listeners) listener(reason, detail);
  }

  /** Checks the deadline when it is due; the keeper's thread may have moved it meanwhile. */
  private scheduleExpiry(): void {
    this.cancelExpiry?.();
    const dueAt = this.validUntil;
    this.cancelExpiry = this.clock.schedule(
      () => {
        if (this.lostReason !== undefined) return;
        const now = monotonicMs();
        if (now < this.validUntil) this.scheduleExpiry();
        else this.lose("LEASE_NOT_RENEWED", this.whyNotRenewed(now, dueAt));
      },
      Math.max(0, dueAt - monotonicMs()),
    );
  }

  /** What a step-down's log line says: enough to tell a slow etcd from a stalled process. */
  private whyNotRenewed(now: number, dueAt: number): string {
    const parts = [`lease ${this.hexId} (TTL ${this.ttlMs} ms) was last renewed by a keep-alive sent ${Math.round(now - this.renewedAtMono)} ms ago`];
    const oldest = this.kept.oldestUnanswered();
    if (oldest !== undefined) parts.push(`keep-alive(s) unanswered, the oldest sent ${Math.round(now - oldest)} ms ago`);
    if (this.lastFailure) parts.push(`last keep-alive failure: ${this.lastFailure}`);
    const late = Math.round(now - dueAt);
    if (late > this.renewEveryMs) parts.push(`the expiry check ran ${late} ms late (the event loop was blocked, or the process stopped)`);
    return parts.join("; ");
  }
}

/** Revokes lease `id` (decimal); a lease that is already gone counts as revoked. */
export async function revokeLease(conn: EtcdConnection, id: string): Promise<void> {
  try {
    await conn.call("revoke a lease", (options) => conn.client.leaseClient.leaseRevoke({ ID: id }, options));
  } catch (err) {
    if (!/requested lease not found/.test((err as Error).message)) throw err;
  }
}
