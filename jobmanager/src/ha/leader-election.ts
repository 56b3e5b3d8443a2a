import type { FencingToken, RiffleError } from "@riffle/shared";

/**
 * Leader election, split as Flink splits it: a thin {@link LeaderElectionDriver} per coordination
 * service (it only campaigns, keeps its lease alive, publishes and fences), and the backend-agnostic
 * {@link LeaderElectionService} between the driver and the one {@link LeaderContender} of a process
 * (the JobManager), which holds the sessions, the confirmation and what is published.
 *
 *   JobManager (contender) ◄── grant / revoke ── LeaderElectionService ◄── grant / revoke ── driver ◄── etcd
 *                          ── confirm(address) ─►                      ── publish ───────►
 */

/** Where a JobManager serves: what the leader publishes once it is ready to lead. */
export interface LeaderAddress {
  /** host:port of its gRPC server (TaskManagers and clients). */
  rpcAddress: string;
  /** http://host:port of its REST API. */
  restAddress: string;
}

/** What followers of the leader learn: who leads, where, under which fencing token. */
export interface LeaderInformation extends LeaderAddress {
  /** The leading process's id (the JobManager's, given to the HA services). */
  leaderId: string;
  /**
   * The leadership's fencing token; null when the leader is fixed by configuration
   * (`high-availability.type: none`), where a TaskManager learns it when it registers.
   */
  token: FencingToken | null;
}

/**
 * One leadership of this process, from its grant to its revocation. A new grant is a new session
 * with a newer token, even for the same process.
 */
export interface LeaderSession {
  readonly token: FencingToken;
  /** When leadership was granted, on the HA services' clock. */
  readonly grantedAt: number;
  /**
   * True while this leadership holds. It is checked against the lease's deadline on the clock, not
   * only against a flag, so a process resuming from a pause (SIGSTOP, a long GC) sees false before
   * its timers have run: check it before every action taken as leader.
   */
  isActive(): boolean;
}

/** Why a leadership ended (a closed set, each with the message logged and shown). */
export const LEADERSHIP_LOST_REASONS = {
  LEASE_NOT_RENEWED: {
    message: "the lease could not be renewed before its time to live ran out (etcd unreachable or too slow), so another JobManager may be elected",
  },
  LEASE_EXPIRED: { message: "etcd reports that the lease expired" },
  ELECTION_KEY_GONE: { message: "the leader's election key is gone from etcd (its lease was revoked or the key deleted)" },
  WRITE_FENCED: { message: "etcd refused a write because this JobManager no longer holds the election key" },
  RESIGNED: { message: "this JobManager resigned (it is shutting down)" },
} as const satisfies Record<string, { message: string }>;

export type LeadershipLostReason = keyof typeof LEADERSHIP_LOST_REASONS;

/** What a driver reports to the service. */
export interface LeaderElectionDriverListener {
  /** This process leads from now on, as `session`. */
  onGrantLeadership(session: LeaderSession): void;
  /**
   * `session` has ended. Called synchronously at the moment the driver knows, or must assume, that
   * the leadership is gone: for an unrenewed lease that is before etcd can let the lease expire, so
   * before another process can be elected. `session.isActive()` is false from this call on, and no
   * fenced write of the session succeeds any more.
   */
  onRevokeLeadership(session: LeaderSession, reason: LeadershipLostReason, detail?: string): void;
  /** A failure the driver handles itself by retrying (etcd unreachable, a campaign that failed); for logs and health. */
  onError(error: RiffleError): void;
}

/** The part of leader election that talks to the coordination service. */
export interface LeaderElectionDriver {
  /** Starts campaigning, for as long as the driver is open; the listener hears every grant and revocation. */
  start(listener: LeaderElectionDriverListener): void;
  /** Whether `session` is the driver's current, unexpired leadership. */
  hasLeadership(session: LeaderSession): boolean;
  /** Writes where followers find the leader, fenced by `session`; LEADERSHIP_LOST when it ended. */
  publishLeaderInformation(session: LeaderSession, info: LeaderInformation): Promise<void>;
  /** Ids of every process campaigning now, the leader first. */
  candidates(): Promise<string[]>;
  /** Stops campaigning; a leader resigns first (revocation with RESIGNED, then the lease is given up so another is elected at once). */
  close(): Promise<void>;
}

/**
 * The one process part that leads (Flink's LeaderContender): the JobManager's leader part.
 *
 * Contract: `grantLeadership` starts acting as leader for `session` (it confirms with
 * {@link LeaderElectionService.confirmLeadership} once it is ready to serve as leader).
 * `revokeLeadership` must stop acting synchronously, before it returns: no more deployments,
 * checkpoints, commits or store writes for that session, its timers cancelled. Clean-up that needs
 * I/O may run afterwards, but must not act as leader. Work already in flight when the call comes
 * (an await that resumes later) has to check `session.isActive()` before it acts.
 */
export interface LeaderContender {
  grantLeadership(session: LeaderSession): void;
  revokeLeadership(session: LeaderSession, reason: LeadershipLostReason, detail?: string): void;
  /** A failure of leader election itself; the election goes on (the driver retries). */
  handleError(error: RiffleError): void;
}

/** Where this process stands in the election. */
export type LeaderElectionState = "idle" | "campaigning" | "leading" | "closed";

/** Leader election as the JobManager uses it (Flink's LeaderElectionService and LeaderElection in one). */
export interface LeaderElectionService {
  readonly state: LeaderElectionState;
  /** This process's id, published as the leader's id and listed among the candidates. */
  readonly leaderId: string;
  /** Starts campaigning for `contender`; once only. */
  start(contender: LeaderContender): void;
  /**
   * The contender is ready to lead as `session` and serves at `address`: publishes the leader
   * information (fenced). LEADERSHIP_LOST when the session ended meanwhile.
   */
  confirmLeadership(session: LeaderSession, address: LeaderAddress): Promise<LeaderInformation>;
  /** Whether `session` is still this process's current leadership. */
  hasLeadership(session: LeaderSession): boolean;
  /** What this process published as leader, while its session lasts. */
  readonly confirmed: LeaderInformation | undefined;
  /** Ids of every process campaigning now, the leader first. */
  candidates(): Promise<string[]>;
  /** Stops campaigning; a leader is revoked (RESIGNED) and resigns. */
  close(): Promise<void>;
}
