import { RiffleError, fencingToken, type Clock, type FencingToken, type Logger } from "@riffle/shared";
import type { ITxnResponse, IOperation, IRequestOp, ComparatorBuilder } from "etcd3";
import { leadershipLost } from "../fencing.js";
import type { LeaderElectionDriver, LeaderElectionDriverListener, LeaderInformation, LeaderSession, LeadershipLostReason } from "../leader-election.js";
import type { EtcdConnection } from "./etcd-connection.js";
import { EtcdLease, revokeLease, type LeaseLossReason } from "./etcd-lease.js";
import type { LeaseKeeper } from "./lease-keeper.js";
import { ELECTION_PREFIX, LEADER_INFO_KEY } from "./keys.js";
import { backoffMs, pause, untilAborted } from "./waits.js";

/** A leadership won in etcd: the election key it holds, and the lease that keeps it. */
export class EtcdLeaderSession implements LeaderSession {
  ended = false;

  constructor(
    readonly token: FencingToken,
    readonly grantedAt: number,
    /** Relative to the cluster prefix. */
    readonly electionKey: string,
    /** The key's create revision (decimal): what every fenced write compares. */
    readonly revision: string,
    readonly lease: EtcdLease,
  ) {}

  isActive(): boolean {
    return !this.ended && this.lease.isValid();
  }
}

/** A condition of a fenced transaction besides the fence: `[key, target, comparator, value]`. */
export type EtcdCompare = Parameters<ComparatorBuilder["and"]>;
type Op = IOperation | IRequestOp;

/** A fenced transaction: `ops` run when the fence and `compares` hold, `otherwise` when only the fence does. */
export interface FencedTxn {
  compares?: EtcdCompare[];
  ops: Op[];
  otherwise?: Op[];
}

export interface EtcdLeaderElectionDriverOptions {
  /** The value of this process's election key: its id. */
  leaderId: string;
  leaseTtlMs: number;
  /** Renews the campaign's leases off the main thread. */
  keeper: LeaseKeeper;
  clock: Clock;
  logger: Logger;
}

type DriverState =
  | { name: "idle" }
  | { name: "granting" }
  | { name: "campaigning"; lease: EtcdLease; revision: string }
  | { name: "leading"; lease: EtcdLease; session: EtcdLeaderSession }
  | { name: "backing-off"; failures: number }
  | { name: "closed" };

/**
 * Leader election on etcd, as etcd's own Go client campaigns (concurrency/election.go): each
 * candidate puts `leader/election/<lease id>` attached to its lease; the key with the lowest create
 * revision leads, and each other candidate waits for the deletion of the key created just before its
 * own. The leader's key is its fence: every write it makes is a transaction that compares the key's
 * create revision, so a deposed leader's write fails (WRITE_FENCED), and its fencing token is that
 * revision with the lease id.
 *
 *   idle ─► granting ─► campaigning ─► leading ─┐  (lease lost, key gone, write fenced)
 *             ▲   │ etcd unreachable             │
 *             │   ▼                              │
 *             └ backing-off ◄────────────────────┘ (or straight to granting) ─► closed (close())
 *
 * Revocation comes from the lease's local deadline (EtcdLease), which passes before etcd can let the
 * lease expire, from a watch on the leader's own key, from a refused write, or from close().
 */
export class EtcdLeaderElectionDriver implements LeaderElectionDriver {
  private state: DriverState = { name: "idle" };
  private listener: LeaderElectionDriverListener | undefined;
  private loop: Promise<void> | undefined;
  /** Aborted when the current campaign is over: its lease lost, its leadership ended, or close(). */
  private attempt: AbortController | undefined;
  private readonly closing = new AbortController();
  private closed = false;
  /**
   * Leases given up while etcd was out of reach: revoked once it answers again, so that their
   * election keys do not hold the next election up for a TTL.
   */
  private readonly staleLeases = new Set<string>();
  private readonly logger: Logger;

  constructor(
    private readonly conn: EtcdConnection,
    private readonly options: EtcdLeaderElectionDriverOptions,
  ) {
    this.logger = options.logger;
  }

  /** Where the campaign stands, for logs and tests. */
  get stateName(): DriverState["name"] {
    return this.state.name;
  }

  /** The lease this process campaigns or leads with; undefined between campaigns. */
  get lease(): EtcdLease | undefined {
    return this.state.name === "campaigning" || this.state.name === "leading" ? this.state.lease : undefined;
  }

  start(listener: LeaderElectionDriverListener): void {
    if (this.loop || this.closed) return;
    this.listener = listener;
    this.loop = this.run();
  }

  hasLeadership(session: LeaderSession): boolean {
    return this.state.name === "leading" && this.state.session === session && session.isActive();
  }

  async publishLeaderInformation(session: LeaderSession, info: LeaderInformation): Promise<void> {
    const own = this.own(session, "publish the leader information");
    await this.fencedTxn(session, "publish the leader information", {
      ops: [this.conn.ns.put(LEADER_INFO_KEY).value(JSON.stringify(info)).lease(own.lease.id)],
    });
  }

  async candidates(): Promise<string[]> {
    const res = await this.conn.call("list the leader candidates", (options) =>
      this.conn.ns.getAll().prefix(ELECTION_PREFIX).sort("Create", "Ascend").options(options).exec(),
    );
    return res.kvs.map((kv) => kv.value.toString());
  }

  /**
   * A transaction made under `session`: it applies `ops` only while the session's election key
   * still exists with its create revision (and `compares` hold). Resolves with etcd's answer when the
   * fence held, `succeeded` telling whether `compares` did; rejects with LEADERSHIP_LOST, after
   * revoking the session (WRITE_FENCED), when the key is gone, and without asking etcd when the
   * session already ended here.
   */
  async fencedTxn(session: LeaderSession, what: string, txn: FencedTxn): Promise<ITxnResponse> {
    const own = this.own(session, what);
    const ns = this.conn.ns;
    const res = await this.conn.call(what, (options) => {
      let builder = ns.if(own.electionKey, "Create", "==", own.revision);
      for (const compare of txn.compares ?? []) builder = builder.and(...compare);
      return builder
        .then(...txn.ops)
        .else(ns.get(own.electionKey), ...(txn.otherwise ?? []))
        .options(options)
        .commit();
    });
    if (res.succeeded) return res;
    const fence = res.responses[0]?.response_range?.kvs[0];
    if (!fence || fence.create_revision !== own.revision) {
      this.endLeadership(own, "WRITE_FENCED", what);
      throw leadershipLost(session, `etcd refused to ${what}: this JobManager no longer holds its election key`);
    }
    return res;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    if (this.state.name === "leading") this.endLeadership(this.state.session, "RESIGNED");
    this.attempt?.abort();
    // The loop gives the lease up (revokes it: a standby is elected at once) and ends.
    await this.loop;
    this.state = { name: "closed" };
  }

  private own(session: LeaderSession, what: string): EtcdLeaderSession {
    if (!(session instanceof EtcdLeaderSession) || !session.isActive()) {
      throw leadershipLost(session, `refused to ${what}: this JobManager no longer leads`);
    }
    return session;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      const attempt = new AbortController();
      this.attempt = attempt;
      let lease: EtcdLease | undefined;
      try {
        await this.revokeStaleLeases();
        this.state = { name: "granting" };
        lease = await EtcdLease.grant(this.conn, this.options.keeper, this.options.leaseTtlMs, this.options.clock, this.logger);
        const granted = lease;
        granted.onLost((reason, detail) => this.onLeaseLost(granted, reason, detail));
        if (this.closed) break;
        const revision = await this.createElectionKey(lease);
        this.state = { name: "campaigning", lease, revision };
        await this.waitForPredecessors(revision, attempt.signal);
        if (attempt.signal.aborted || !lease.isValid()) continue;
        const session = new EtcdLeaderSession(
          fencingToken(BigInt(revision), lease.hexId),
          this.options.clock.now(),
          `${ELECTION_PREFIX}${lease.hexId}`,
          revision,
          lease,
        );
        this.state = { name: "leading", lease, session };
        failures = 0;
        this.watchOwnKey(session, attempt.signal);
        this.listener?.onGrantLeadership(session);
        await untilAborted(attempt.signal);
      } catch (err) {
        // An interrupted campaign (lease lost, closed) is not a failure of its own.
        if (!attempt.signal.aborted && !this.closed) {
          failures++;
          // Reported on the first failure and every tenth, not every retry of an outage.
          if (failures === 1 || failures % 10 === 0) this.listener?.onError(this.conn.failure("campaign for leadership", err));
        }
      } finally {
        attempt.abort();
        if (lease) await this.giveUp(lease);
      }
      if (failures > 0 && !this.closed) {
        this.state = { name: "backing-off", failures };
        await pause(this.options.clock, backoffMs(failures), this.closing.signal);
      }
    }
    this.state = { name: "closed" };
  }

  /** The lease behind the campaign is gone: a leader is revoked at once, a waiting candidate starts over. */
  private onLeaseLost(lease: EtcdLease, reason: LeaseLossReason, detail: string): void {
    if (reason === "RELEASED") return;
    if (this.state.name === "leading" && this.state.lease === lease) this.endLeadership(this.state.session, reason, detail);
    else if (this.state.name === "campaigning" && this.state.lease === lease) this.attempt?.abort();
  }

  /** Ends `session` here and now: marked ended, the listener told synchronously, the campaign loop woken. */
  private endLeadership(session: EtcdLeaderSession, reason: LeadershipLostReason, detail?: string): void {
    if (session.ended) return;
    session.ended = true;
    if (this.state.name === "leading" && this.state.session === session) this.attempt?.abort();
    this.listener?.onRevokeLeadership(session, reason, detail);
  }

  /** After a campaign: its lease is revoked (a standby leads at once), or remembered when etcd could not be asked. */
  private async giveUp(lease: EtcdLease): Promise<void> {
    if (lease.lost === "LEASE_EXPIRED") return;
    if (lease.lost === "LEASE_NOT_RENEWED") {
      lease.release();
      this.staleLeases.add(lease.id);
      return;
    }
    if (!(await lease.revoke())) this.staleLeases.add(lease.id);
  }

  private async revokeStaleLeases(): Promise<void> {
    for (const id of [...this.staleLeases]) {
      try {
        await revokeLease(this.conn, id);
      } catch (err) {
        // Out of reach still: the campaign waits too. Any other answer: the lease expires by itself.
        if (err instanceof RiffleError && err.code === "HA_UNAVAILABLE") throw err;
        this.logger.warn({ leaseId: BigInt(id).toString(16), err: (err as Error).message }, "could not revoke a lease given up earlier; it expires by itself");
      }
      this.staleLeases.delete(id);
    }
  }

  /** Puts this candidate's election key; resolves with its create revision. */
  private async createElectionKey(lease: EtcdLease): Promise<string> {
    const ns = this.conn.ns;
    const key = `${ELECTION_PREFIX}${lease.hexId}`;
    const res = await this.conn.call("create the election key", (options) =>
      ns.if(key, "Create", "==", 0).then(ns.put(key).value(this.options.leaderId).lease(lease.id)).else(ns.get(key)).options(options).commit(),
    );
    if (res.succeeded) return res.header.revision;
    const kv = res.responses[0]?.response_range?.kvs[0];
    if (!kv) throw new Error(`election key ${key} vanished while it was created`);
    return kv.create_revision;
  }

  /** Resolves once no key created before this candidate's is left: it leads. */
  private async waitForPredecessors(revision: string, signal: AbortSignal): Promise<void> {
    const ns = this.conn.ns;
    for (;;) {
      signal.throwIfAborted();
      const res = await this.conn.call("look for earlier candidates", (options) =>
        ns
          .getAll()
          .prefix(ELECTION_PREFIX)
          .maxCreateRevision(String(BigInt(revision) - 1n))
          .sort("Create", "Descend")
          .limit(1)
          .options(options)
          .exec(),
      );
      const predecessor = res.kvs[0];
      if (!predecessor) return;
      await this.waitForDelete(predecessor.key.toString(), BigInt(res.header.revision) + 1n, signal);
    }
  }

  /**
   * Resolves when `key` is deleted at or after revision `from`, or when the watch fails (a compacted
   * revision: the caller looks again); rejects when `signal` aborts.
   */
  private async waitForDelete(key: string, from: bigint, signal: AbortSignal): Promise<void> {
    const watcher = this.conn.ns.watch().key(key).startRevision(String(from)).only("delete").watcher();
    let onAbort: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        watcher.on("delete", () => resolve());
        watcher.on("error", (err) => {
          this.logger.debug({ key, err: err.message }, "watch of the earlier candidate failed; looking again");
          resolve();
        });
        onAbort = () => reject(signal.reason);
        if (signal.aborted) onAbort();
        else signal.addEventListener("abort", onAbort, { once: true });
      });
    } finally {
      if (onAbort) signal.removeEventListener("abort", onAbort);
      watcher.cancel().catch(() => {});
    }
  }

  /** Revokes `session` when its election key is deleted (a lease revoked by hand, a key deleted by hand). */
  private watchOwnKey(session: EtcdLeaderSession, signal: AbortSignal): void {
    if (signal.aborted) return;
    const watcher = this.conn.ns
      .watch()
      .key(session.electionKey)
      .startRevision(String(BigInt(session.revision) + 1n))
      .only("delete")
      .watcher();
    const stop = () => watcher.cancel().catch(() => {});
    signal.addEventListener("abort", stop, { once: true });
    watcher.on("delete", () => this.endLeadership(session, "ELECTION_KEY_GONE"));
    watcher.on("error", (err) => {
      // The watch is over (a compacted revision): look at the key itself, then watch again.
      signal.removeEventListener("abort", stop);
      this.logger.debug({ err: err.message }, "watch of the election key failed; checking the key");
      void this.conn
        .call("read the election key", (options) => this.conn.ns.get(session.electionKey).options(options).exec())
        .then(
          (res) => {
            const kv = res.kvs[0];
            if (!kv || kv.create_revision !== session.revision) this.endLeadership(session, "ELECTION_KEY_GONE");
            else this.watchOwnKey(session, signal);
          },
          () => this.watchOwnKey(session, signal),
        );
    });
  }
}
