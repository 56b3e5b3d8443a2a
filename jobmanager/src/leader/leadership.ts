import { RiffleError, describeError, toRiffleError, type Clock, type Logger } from "@riffle/shared";
import type { HighAvailabilityInfo } from "@riffle/shared/rest-api";
import type {
  HighAvailabilityServices,
  LeaderAddress,
  LeaderContender,
  LeaderInformation,
  LeaderRetrievalListener,
  LeaderSession,
  LeadershipLostReason,
} from "../ha/index.js";
import type { LeaderPart, LeaderPartOptions } from "./leader-part.js";

/** Builds the leader part of a leadership from its session's stores; `leaderId` is this JobManager's. */
export type LeaderPartFactory = (stores: LeaderPartOptions["stores"], leaderId: string) => LeaderPart;

/** What the leadership reports for metrics. */
export interface LeadershipEvents {
  granted(): void;
  revoked(reason: LeadershipLostReason): void;
}

/** Longest wait between attempts to take over the jobs when the stores cannot be read. */
const MAX_RETRY_MS = 2_000;

/**
 * The JobManager's place in the election and the door to its leader part (Flink's
 * DispatcherLeaderProcess runner): the contender that builds a LeaderPart on each grant, takes over
 * the jobs, confirms the leadership (publishing this JobManager's addresses), and closes the part at
 * once on revocation. It also follows the leader, so that a standby can point requests at it.
 *
 *   standby ──grant──► recovering (part built, jobs being taken over) ──confirmed──► leader
 *      ▲                         │                                                    │
 *      └──────────────── revoke: part.close(), synchronously ◄───────────────────────┘
 *
 * REST and ClientService calls are served only by the leader (`serving()`); TaskManagers may register
 * from the grant on (`granted()`), since without high availability they find the JobManager by its
 * configured address before it has recovered.
 */
export class JobManagerLeadership implements LeaderContender, LeaderRetrievalListener {
  private part: LeaderPart | undefined;
  private ready: LeaderPart | undefined;
  private knownLeader: LeaderInformation | undefined;
  private lastError: RiffleError | undefined;
  private readyWaiters: Array<() => void> = [];
  private ha: HighAvailabilityServices | undefined;
  private address: LeaderAddress = { rpcAddress: "", restAddress: "" };

  constructor(
    private readonly options: {
      createPart: LeaderPartFactory;
      events: LeadershipEvents;
      clock: Clock;
      logger: Logger;
    },
  ) {}

  /** Starts campaigning with `ha`'s election and following its leader; `address` is where this JobManager serves, published once it leads. */
  start(ha: HighAvailabilityServices, address: LeaderAddress): void {
    this.ha = ha;
    this.address = address;
    ha.createLeaderRetrievalService().start(this);
    ha.leaderElection.start(this);
  }

  /** The leader part once this JobManager leads and has taken over the jobs; undefined otherwise. */
  serving(): LeaderPart | undefined {
    const part = this.ready;
    return part && !part.closed && part.session.isActive() ? part : undefined;
  }

  /** The leader part from the grant on (jobs may still be being taken over); undefined without leadership. */
  granted(): LeaderPart | undefined {
    const part = this.part;
    return part && !part.closed && part.session.isActive() ? part : undefined;
  }

  /** The serving leader part; NOT_LEADER naming the leader (or why there is none) otherwise. */
  require(): LeaderPart {
    const part = this.serving();
    if (part) return part;
    throw new RiffleError("NOT_LEADER", this.whyNotLeader());
  }

  /** The leader as published, when it is another JobManager than this one. */
  otherLeader(): LeaderInformation | undefined {
    const leader = this.knownLeader;
    if (!leader || leader.leaderId === this.ha?.leaderElection.leaderId) return undefined;
    return leader;
  }

  /** Why this JobManager does not serve as leader now, for a 503 or a log line. */
  whyNotLeader(): string {
    if (this.granted()) return "this JobManager was just elected leader and is taking over the jobs; retry in a moment";
    const other = this.otherLeader();
    if (other) return `this JobManager is a standby; the leader is ${other.leaderId} (REST ${other.restAddress}, gRPC ${other.rpcAddress})`;
    if (this.lastError) return `no leader: ${this.lastError.message}`;
    return "no leader: the election is under way; retry in a moment";
  }

  /** Resolves once this JobManager serves as leader (at once without high availability). */
  whenServing(): Promise<void> {
    if (this.serving()) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  grantLeadership(session: LeaderSession): void {
    const ha = this.ha;
    if (!ha) return;
    this.options.events.granted();
    this.lastError = undefined;
    void this.lead(ha, session);
  }

  revokeLeadership(session: LeaderSession, reason: LeadershipLostReason): void {
    this.options.events.revoked(reason);
    const part = this.part;
    if (!part || part.session !== session) return;
    // Synchronously: from here on nothing of this leadership deploys, checkpoints, commits or writes.
    part.close();
    this.part = undefined;
    if (this.ready === part) this.ready = undefined;
  }

  handleError(error: RiffleError): void {
    this.lastError = error;
  }

  notifyLeaderAddress(leader: LeaderInformation | undefined): void {
    this.knownLeader = leader;
    if (leader) this.lastError = undefined;
  }

  /** /jobmanager/ha: this JobManager's view of high availability. */
  async info(): Promise<HighAvailabilityInfo> {
    const ha = this.ha;
    if (!ha) throw new RiffleError("NOT_LEADER", "the JobManager is starting");
    let candidates: string[] | null = null;
    try {
      candidates = await ha.leaderElection.candidates();
    } catch (err) {
      this.lastError = toRiffleError(err);
    }
    const lease = ha.leaseStatus();
    const leader = this.serving() ? ha.leaderElection.confirmed : this.knownLeader;
    return {
      type: ha.type,
      clusterId: ha.clusterId,
      role: this.serving() ? "leader" : "standby",
      self: { id: ha.leaderElection.leaderId, rpcAddress: this.address.rpcAddress, restAddress: this.address.restAddress },
      leader: leader
        ? {
            id: leader.leaderId,
            rpcAddress: leader.rpcAddress,
            restAddress: leader.restAddress,
            fencingToken: leader.token ?? this.serving()?.session.token ?? null,
          }
        : null,
      candidates,
      electionState: ha.leaderElection.state,
      error: this.lastError?.message ?? null,
      leaseTtlMs: lease?.ttlMs ?? null,
      msSinceLastKeepAlive: lease ? Math.max(0, this.options.clock.now() - lease.lastRenewedAt) : null,
    };
  }

  /** Closes the part of a leadership this JobManager still holds (it shuts down). */
  close(): void {
    this.part?.close();
    this.part = undefined;
    this.ready = undefined;
  }

  /**
   * Builds the leader part, takes over the jobs, then publishes this JobManager as the leader. When
   * the stores cannot be read, tries again with a fresh part (backing off) for as long as the
   * leadership lasts.
   */
  private async lead(ha: HighAvailabilityServices, session: LeaderSession): Promise<void> {
    const { logger } = this.options;
    for (let failures = 0; session.isActive(); failures++) {
      const part = this.options.createPart(ha.stores(session), ha.leaderElection.leaderId);
      this.part = part;
      try {
        await part.start();
        if (part.closed || !session.isActive()) return;
        await ha.leaderElection.confirmLeadership(session, this.address);
        if (part.closed || !session.isActive()) return;
        this.ready = part;
        logger.info({ token: session.token }, "leading: jobs taken over, leadership published");
        for (const wake of this.readyWaiters.splice(0)) wake();
        return;
      } catch (err) {
        const e = toRiffleError(err);
        if (part.closed || !session.isActive() || e.code === "LEADERSHIP_LOST") return;
        part.close();
        if (this.part === part) this.part = undefined;
        this.lastError = e;
        const delayMs = Math.min(MAX_RETRY_MS, 100 * 2 ** failures);
        logger.error({ err: describeError(err), delayMs }, `could not take over the jobs as leader; trying again in ${delayMs} ms`);
        await new Promise<void>((resolve) => this.options.clock.schedule(resolve, delayMs));
      }
    }
  }
}
