import { RiffleError, describeError, toRiffleError, type Logger } from "@riffle/shared";
import { leadershipLost } from "./fencing.js";
import {
  LEADERSHIP_LOST_REASONS,
  type LeaderAddress,
  type LeaderContender,
  type LeaderElectionDriver,
  type LeaderElectionDriverListener,
  type LeaderElectionService,
  type LeaderElectionState,
  type LeaderInformation,
  type LeaderSession,
  type LeadershipLostReason,
} from "./leader-election.js";

/** The moves between election states; anything else is a bug. */
const TRANSITIONS: Record<LeaderElectionState, readonly LeaderElectionState[]> = {
  idle: ["campaigning", "closed"],
  campaigning: ["leading", "closed"],
  leading: ["campaigning", "closed"],
  closed: [],
};

/**
 * The backend-agnostic half of leader election (Flink's DefaultLeaderElectionService): it starts the
 * driver for the process's contender, passes grants and revocations on (only for the current
 * session, whatever order a driver's callbacks come in), publishes the leader information once the
 * contender confirms, and keeps the contender's failures from reaching the driver.
 */
export class DefaultLeaderElectionService implements LeaderElectionService, LeaderElectionDriverListener {
  private current: LeaderSession | undefined;
  private contender: LeaderContender | undefined;
  private published: { session: LeaderSession; info: LeaderInformation } | undefined;
  private stateName: LeaderElectionState = "idle";
  private closing: Promise<void> | undefined;
  private closeRequested = false;

  constructor(
    private readonly driver: LeaderElectionDriver,
    readonly leaderId: string,
    private readonly logger: Logger,
  ) {}

  get state(): LeaderElectionState {
    return this.stateName;
  }

  get confirmed(): LeaderInformation | undefined {
    return this.published && this.published.session === this.current && this.current.isActive() ? this.published.info : undefined;
  }

  start(contender: LeaderContender): void {
    if (this.stateName !== "idle") throw new RiffleError("INTERNAL", `leader election already ${this.stateName}`);
    this.contender = contender;
    this.moveTo("campaigning");
    this.logger.info({ leaderId: this.leaderId }, "campaigning for leadership");
    this.driver.start(this);
  }

  onGrantLeadership(session: LeaderSession): void {
    if (this.stateName !== "campaigning" || this.closeRequested || !session.isActive()) return;
    this.current = session;
    this.moveTo("leading");
    this.logger.info({ leaderId: this.leaderId, token: session.token }, "granted leadership");
    this.callContender("grantLeadership", (c) => c.grantLeadership(session));
  }

  onRevokeLeadership(session: LeaderSession, reason: LeadershipLostReason, detail?: string): void {
    if (session !== this.current) return;
    this.current = undefined;
    this.published = undefined;
    this.moveTo(this.closeRequested ? "closed" : "campaigning");
    const log = reason === "RESIGNED" ? this.logger.info.bind(this.logger) : this.logger.warn.bind(this.logger);
    log(
      { leaderId: this.leaderId, token: session.token, reason, ...(detail ? { detail } : {}) },
      `leadership revoked: ${LEADERSHIP_LOST_REASONS[reason].message}`,
    );
    this.callContender("revokeLeadership", (c) => c.revokeLeadership(session, reason, detail));
  }

  onError(error: RiffleError): void {
    this.logger.warn({ leaderId: this.leaderId, code: error.code, err: error.message }, "leader election: will retry");
    const contender = this.contender;
    if (!contender) return;
    try {
      contender.handleError(error);
    } catch (err) {
      this.logger.error({ err: describeError(err) }, "the leader contender failed to handle an election error");
    }
  }

  async confirmLeadership(session: LeaderSession, address: LeaderAddress): Promise<LeaderInformation> {
    if (!this.hasLeadership(session)) throw leadershipLost(session);
    const info: LeaderInformation = { leaderId: this.leaderId, token: session.token, rpcAddress: address.rpcAddress, restAddress: address.restAddress };
    await this.driver.publishLeaderInformation(session, info);
    if (!this.hasLeadership(session)) throw leadershipLost(session);
    this.published = { session, info };
    this.logger.info({ ...info }, "leadership confirmed and published");
    return info;
  }

  hasLeadership(session: LeaderSession): boolean {
    return session === this.current && session.isActive() && this.driver.hasLeadership(session);
  }

  candidates(): Promise<string[]> {
    return this.driver.candidates();
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.closeRequested = true;
      // The driver revokes a current leadership synchronously (RESIGNED) before it gives up its lease.
      this.closing = this.driver.close().then(() => {
        if (this.stateName !== "closed") this.moveTo("closed");
      });
    }
    return this.closing;
  }

  private moveTo(next: LeaderElectionState): void {
    if (!TRANSITIONS[this.stateName].includes(next)) {
      throw new RiffleError("INTERNAL", `leader election cannot move from ${this.stateName} to ${next}`);
    }
    this.stateName = next;
  }

  /** A contender that throws must not break the driver's loop: its failure goes to its own handleError. */
  private callContender(what: string, call: (c: LeaderContender) => void): void {
    const contender = this.contender;
    if (!contender) return;
    try {
      call(contender);
    } catch (err) {
      this.logger.error({ err: describeError(err) }, `the leader contender failed in ${what}`);
      try {
        contender.handleError(toRiffleError(err));
      } catch {
        // already logged
      }
    }
  }
}
