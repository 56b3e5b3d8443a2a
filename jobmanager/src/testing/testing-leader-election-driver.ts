import { fencingToken } from "@riffle/shared";
import { leadershipLost } from "../ha/fencing.js";
import type { LeaderElectionDriver, LeaderElectionDriverListener, LeaderInformation, LeaderSession, LeadershipLostReason } from "../ha/index.js";

/** A session the test ends by hand. */
export class TestingSession implements LeaderSession {
  active = true;
  constructor(
    readonly token: ReturnType<typeof fencingToken>,
    readonly grantedAt: number,
  ) {}
  isActive(): boolean {
    return this.active;
  }
}

/**
 * A leader election driver the test drives (Flink's TestingLeaderElectionDriver): `grant()` and
 * `revoke()` play what a coordination service would do; what the service publishes is recorded.
 */
export class TestingLeaderElectionDriver implements LeaderElectionDriver {
  listener: LeaderElectionDriverListener | undefined;
  current: TestingSession | undefined;
  readonly published: LeaderInformation[] = [];
  closed = false;
  private epoch = 0n;
  /** Overridable: what publishing does (resolves by default). */
  publish: (session: LeaderSession, info: LeaderInformation) => Promise<void> = async () => {};

  start(listener: LeaderElectionDriverListener): void {
    this.listener = listener;
  }

  grant(): TestingSession {
    this.epoch++;
    this.current = new TestingSession(fencingToken(this.epoch, this.epoch), Number(this.epoch));
    this.listener?.onGrantLeadership(this.current);
    return this.current;
  }

  revoke(reason: LeadershipLostReason = "LEASE_NOT_RENEWED", session = this.current): void {
    if (!session) return;
    session.active = false;
    if (this.current === session) this.current = undefined;
    this.listener?.onRevokeLeadership(session, reason);
  }

  hasLeadership(session: LeaderSession): boolean {
    return session === this.current && this.current.active;
  }

  async publishLeaderInformation(session: LeaderSession, info: LeaderInformation): Promise<void> {
    if (!this.hasLeadership(session)) throw leadershipLost(session);
    await this.publish(session, info);
    this.published.push(info);
  }

  async candidates(): Promise<string[]> {
    return [];
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.current) this.revoke("RESIGNED");
  }
}
