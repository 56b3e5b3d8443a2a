import type { CallOptions } from "@grpc/grpc-js";
import type { Cancel, Clock, Logger } from "@riffle/shared";
import { castGrpcError, GRPCCancelledError, type ILeaseKeepAliveResponse } from "etcd3";
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
 *   grant/keep-alive sent ──► answered (TTL) ──► next keep-alive at sentAt + TTL/6 ──► …
 *                                   └─ no renewal by sentAt + TTL − TTL/6 ──► lost, at once
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
    return true;
  }

  private lose(reason: LeaseLossReason, detail: string): void {
    if (!this.stop(reason)) return;
    for (const listener of this.listeners) listener(reason, detail);
  }

  private scheduleRenewal(at: number): void {
    this.cancelRenewal?.();
    this.cancelRenewal = this.clock.schedule(() => void this.renew(), Math.max(0, at - this.clock.now()));
  }

  private scheduleExpiry(): void {
    this.cancelExpiry?.();
    this.cancelExpiry = this.clock.schedule(
      () => {
        if (this.lostReason !== undefined) return;
        const now = this.clock.now();
        if (now >= this.validUntil) {
          this.lose("LEASE_NOT_RENEWED", `lease ${this.hexId} (TTL ${this.ttlMs} ms) was last renewed ${now - this.renewedAt} ms ago`);
        } else this.scheduleExpiry();
      },
      Math.max(0, this.validUntil - this.clock.now()),
    );
  }

  private async renew(): Promise<void> {
    if (this.lostReason !== undefined) return;
    const sentAt = this.clock.now();
    const budget = Math.min(this.conn.callTimeoutMs, this.validUntil - sentAt);
    if (budget <= 0) return; // the expiry timer is due
    try {
      const res = await this.conn.call("renew the lease", (options) => keepAliveOnce(this.conn, this.id, options), budget);
      if (this.lostReason !== undefined) return;
      if (Number(res.TTL) <= 0) {
        this.lose("LEASE_EXPIRED", `etcd reports lease ${this.hexId} expired`);
        return;
      }
      if (this.renewalFailing) this.logger.info({ leaseId: this.hexId }, "lease renewed again");
      this.renewalFailing = false;
      if (sentAt + Number(res.TTL) * 1000 > this.expiresAt) {
        this.expiresAt = sentAt + Number(res.TTL) * 1000;
        this.renewedAt = sentAt;
      }
      this.scheduleExpiry();
      this.scheduleRenewal(sentAt + this.renewEveryMs);
    } catch (err) {
      if (this.lostReason !== undefined) return;
      if (!this.renewalFailing) {
        this.logger.warn(
          { leaseId: this.hexId, err: (err as Error).message, validForMs: this.validUntil - this.clock.now() },
          "lease renewal failed; retrying",
        );
      }
      this.renewalFailing = true;
      this.scheduleRenewal(this.clock.now() + Math.max(50, this.ttlMs / 10));
    }
  }
}

/** One keep-alive on a stream of its own, closed after the answer (the stream carries the deadline). */
async function keepAliveOnce(conn: EtcdConnection, id: string, options: CallOptions): Promise<ILeaseKeepAliveResponse> {
  const stream = await conn.client.leaseClient.leaseKeepAlive(options);
  return new Promise((resolve, reject) => {
    stream.on("data", (res) => {
      resolve(res);
      stream.end();
    });
    stream.on("error", (err) => reject(castGrpcError(err)));
    stream.on("end", () => reject(new GRPCCancelledError("the keep-alive stream ended without an answer")));
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
