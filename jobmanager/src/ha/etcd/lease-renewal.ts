import type { Cancel, Clock } from "@riffle/shared";
import { castGrpcError, GRPCCancelledError, GRPCDeadlineExceededError, type ILeaseKeepAliveResponse } from "etcd3";
import type { EtcdConnection } from "./etcd-connection.js";

/** What a LeaseRenewal reports. */
export interface LeaseRenewalEvents {
  /** etcd renewed the lease from `expiresAt − TTL` (when the keep-alive was sent) to `expiresAt`. */
  renewed(expiresAt: number): void;
  /** The keep-alives waiting for an answer changed: when the oldest of them was sent, if any. */
  unanswered(oldestSentAt: number | undefined): void;
  /** etcd answered that the lease no longer exists. */
  expired(): void;
  /** A keep-alive failed; `first` is true for the first failure after a success. */
  failed(message: string, first: boolean): void;
  /** A keep-alive succeeded after failures. */
  recovered(): void;
}

/**
 * Keeps one etcd lease alive: a keep-alive every sixth of the TTL, whether or not the earlier ones
 * were answered. Under load etcd may take longer than the call timeout to answer one, and such an
 * answer still renews the lease from when it was sent, so each keep-alive waits for its answer as
 * long as that can help: five sixths of the TTL. Renewals that waited for each other, each cut off
 * after the call timeout, made a leader step down whenever etcd took about that long (0.7 s and
 * more at a 2 s TTL), although etcd renewed its lease every time (decision record 0009).
 *
 * It runs in the lease keeper's worker thread (lease-keeper.ts), so that a JobManager whose main
 * event loop is busy still renews on time; the leader's own deadline is judged on the main thread.
 */
export class LeaseRenewal {
  private expiresAt: number;
  private stopped = false;
  private cancelNext: Cancel | undefined;
  private readonly inFlight = new Set<{ sentAt: number; drop: AbortController }>();
  private failing = false;

  constructor(
    private readonly conn: EtcdConnection,
    /** Decimal, as etcd's API carries it. */
    private readonly id: string,
    private readonly ttlMs: number,
    /** When the grant (or the keep-alive) that last renewed it was sent. */
    renewedAt: number,
    private readonly clock: Clock,
    private readonly events: LeaseRenewalEvents,
    /** Asked before each keep-alive: false stops renewing (the lease then runs out). */
    private readonly mayRenew: () => boolean = () => true,
  ) {
    this.expiresAt = renewedAt + ttlMs;
    this.schedule(renewedAt + this.ttlMs / 6);
  }

  /** Stops renewing, and drops the keep-alives in flight: an answer would only hold a given-up lease longer. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.cancelNext?.();
    for (const k of this.inFlight) k.drop.abort();
  }

  private schedule(at: number): void {
    this.cancelNext?.();
    this.cancelNext = this.clock.schedule(
      () => {
        if (this.stopped) return;
        this.schedule(this.clock.now() + this.ttlMs / 6);
        void this.renew();
      },
      Math.max(0, at - this.clock.now()),
    );
  }

  private reportUnanswered(): void {
    let oldest: number | undefined;
    for (const k of this.inFlight) oldest = oldest === undefined ? k.sentAt : Math.min(oldest, k.sentAt);
    this.events.unanswered(oldest);
  }

  private async renew(): Promise<void> {
    const sentAt = this.clock.now();
    // Past the local deadline the lease is given up on the main thread; renewing it would only hold
    // its election key longer.
    if (sentAt >= this.expiresAt - this.ttlMs / 6 || !this.mayRenew()) return;
    const keepAlive = { sentAt, drop: new AbortController() };
    this.inFlight.add(keepAlive);
    this.reportUnanswered();
    try {
      const res = await keepAliveOnce(this.conn, this.id, this.ttlMs - this.ttlMs / 6, this.clock, keepAlive.drop.signal);
      if (this.stopped) return;
      if (Number(res.TTL) <= 0) {
        this.stop();
        this.events.expired();
        return;
      }
      if (this.failing) this.events.recovered();
      this.failing = false;
      const expiresAt = sentAt + Number(res.TTL) * 1000;
      if (expiresAt > this.expiresAt) {
        this.expiresAt = expiresAt;
        this.events.renewed(expiresAt);
      }
    } catch (err) {
      if (this.stopped) return;
      this.events.failed(this.conn.failure("renew the lease", err, this.ttlMs - this.ttlMs / 6).message, !this.failing);
      this.failing = true;
      // A quick failure (etcd refused the connection) is retried sooner than the cadence.
      const retryAt = this.clock.now() + Math.max(50, this.ttlMs / 10);
      if (this.inFlight.size === 1 && retryAt < sentAt + this.ttlMs / 6) this.schedule(retryAt);
    } finally {
      this.inFlight.delete(keepAlive);
      if (!this.stopped) this.reportUnanswered();
    }
  }
}

/**
 * One keep-alive on a stream of its own, closed after the answer. The stream carries no gRPC
 * deadline: the etcd3 client would count an expired one against the endpoint (its circuit breaker)
 * and reset every connection to it, which only slows the next keep-alives down. Instead the stream is
 * closed (ended, then cancelled: a stream no longer writable is not reported) after `timeoutMs`, or
 * when `drop` aborts.
 */
async function keepAliveOnce(conn: EtcdConnection, id: string, timeoutMs: number, clock: Clock, drop: AbortSignal): Promise<ILeaseKeepAliveResponse> {
  const stream = await conn.client.leaseClient.leaseKeepAlive();
  return new Promise((resolve, reject) => {
    const settle = () => {
      cancelTimer();
      drop.removeEventListener("abort", onDrop);
    };
    const close = (err: Error) => {
      settle();
      reject(err);
      stream.end();
      stream.cancel();
    };
    const onDrop = () => close(new GRPCCancelledError("the keep-alive was dropped: the lease is given up"));
    const cancelTimer = clock.schedule(() => close(new GRPCDeadlineExceededError(`no answer to the keep-alive within ${Math.round(timeoutMs)} ms`)), timeoutMs);
    if (drop.aborted) {
      onDrop();
      return;
    }
    drop.addEventListener("abort", onDrop, { once: true });
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
