import { randomUUID } from "node:crypto";
import type { Cancel, Clock, Logger } from "@riffle/shared";
import { ErrorCode, type ErrorCodeValue } from "../protocol/errors.js";

/**
 * A consumer group's membership, as Kafka's classic group protocol runs it:
 *
 * ```
 *            join                   all members (re)joined,            leader's SyncGroup
 *   Empty ─────────▶ PreparingRebalance ─────────────────▶ CompletingRebalance ─────────────▶ Stable
 *     ▲                 ▲   │ nobody left                     │ join / leave / expiry           │
 *     └─────────────────┼───┘                                 ▼                                 │
 *                       └────────────────── join with new protocols, leave, session expiry ◀────┘
 * ```
 * In PreparingRebalance the coordinator waits for every known member to send JoinGroup again (members
 * learn of the rebalance from REBALANCE_IN_PROGRESS on their heartbeat), or for the rebalance timeout,
 * after which members that did not rejoin are dropped. It then starts a new generation, picks the
 * protocol all members support, and sends the leader every member's metadata; the leader computes the
 * assignment and hands it over in SyncGroup.
 */
export type GroupState = "Empty" | "PreparingRebalance" | "CompletingRebalance" | "Stable" | "Dead";

const TRANSITIONS: Record<GroupState, readonly GroupState[]> = {
  Empty: ["PreparingRebalance", "Dead"],
  PreparingRebalance: ["CompletingRebalance", "Empty", "Dead"],
  CompletingRebalance: ["Stable", "PreparingRebalance", "Dead"],
  Stable: ["PreparingRebalance", "Dead"],
  Dead: [],
};

export interface Protocol {
  name: string;
  metadata: Buffer;
}

export interface JoinRequest {
  memberId: string;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: Protocol[];
}

export interface JoinResult {
  errorCode: ErrorCodeValue;
  generationId: number;
  protocolName: string;
  leader: string;
  memberId: string;
  /** Every member's metadata for the chosen protocol: for the leader only. */
  members: Array<{ memberId: string; metadata: Buffer }>;
}

export interface SyncResult {
  errorCode: ErrorCodeValue;
  assignment: Buffer;
}

export interface GroupSettings {
  /** How long an empty group waits for more members before its first generation (Kafka's group.initial.rebalance.delay.ms). */
  initialRebalanceDelayMs: number;
}

interface Member {
  memberId: string;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocols: Protocol[];
  assignment: Buffer;
  awaitingJoin?: (result: JoinResult) => void;
  awaitingSync?: (result: SyncResult) => void;
  expiry?: Cancel;
}

const EMPTY = Buffer.alloc(0);

export class Group {
  private state: GroupState = "Empty";
  private generation = 0;
  private protocolType: string | null = null;
  private protocolName: string | null = null;
  private leader: string | null = null;
  private readonly members = new Map<string, Member>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, not yet used to join; each expires after its session timeout. */
  private readonly pending = new Map<string, Cancel>();
  private rebalanceTimer: Cancel | undefined;
  /** The first rebalance of an empty group waits the initial delay even when everyone has joined. */
  private initialDelay = false;

  constructor(
    readonly groupId: string,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly settings: GroupSettings,
  ) {}

  get currentState(): GroupState {
    return this.state;
  }

  get generationId(): number {
    return this.generation;
  }

  get memberCount(): number {
    return this.members.size;
  }

  private transition(to: GroupState, reason: string): void {
    if (!TRANSITIONS[this.state].includes(to)) throw new Error(`group ${this.groupId}: no transition from ${this.state} to ${to}`);
    this.logger.info({ group: this.groupId, from: this.state, to, generation: this.generation, members: this.members.size, reason }, "group state changed");
    this.state = to;
  }

  join(req: JoinRequest, version: number): Promise<JoinResult> | JoinResult {
    if (this.state === "Dead") return this.failedJoin(ErrorCode.COORDINATOR_NOT_AVAILABLE, req.memberId);
    if (!this.supports(req)) return this.failedJoin(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId);
    if (req.memberId === "") {
      const memberId = `${req.clientId}-${randomUUID()}`;
      // KIP-394: from v4 a new member first gets its id and joins again with it.
      if (version >= 4) {
        this.pending.set(
          memberId,
          this.clock.schedule(() => this.pending.delete(memberId), req.sessionTimeoutMs),
        );
        return this.failedJoin(ErrorCode.MEMBER_ID_REQUIRED, memberId);
      }
      return this.addMember(memberId, req);
    }
    const cancelPending = this.pending.get(req.memberId);
    if (cancelPending) {
      cancelPending();
      this.pending.delete(req.memberId);
      return this.addMember(req.memberId, req);
    }
    const member = this.members.get(req.memberId);
    if (!member) return this.failedJoin(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId);
    const unchanged = sameProtocols(member.protocols, req.protocols);
    this.update(member, req);
    if (this.state === "PreparingRebalance") {
      const joined = this.awaitJoin(member);
      this.maybeCompleteJoin();
      return joined;
    }
    if (unchanged && (this.state === "CompletingRebalance" || (this.state === "Stable" && member.memberId !== this.leader))) {
      // Nothing changed for this member: it gets the current generation again.
      this.scheduleExpiry(member);
      return this.joinResult(member);
    }
    const joined = this.awaitJoin(member);
    this.prepareRebalance(`member ${member.memberId} rejoined${unchanged ? " as leader" : " with new protocols"}`);
    return joined;
  }

  sync(memberId: string, generationId: number, assignments: Map<string, Buffer>): Promise<SyncResult> | SyncResult {
    const member = this.members.get(memberId);
    if (!member || this.state === "Empty" || this.state === "Dead") return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY };
    if (generationId !== this.generation) return { errorCode: ErrorCode.ILLEGAL_GENERATION, assignment: EMPTY };
    if (this.state === "PreparingRebalance") return { errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY };
    this.scheduleExpiry(member);
    if (this.state === "Stable") return { errorCode: ErrorCode.NONE, assignment: member.assignment };
    const synced = new Promise<SyncResult>((resolve) => (member.awaitingSync = resolve));
    if (memberId === this.leader) {
      for (const m of this.members.values()) m.assignment = assignments.get(m.memberId) ?? EMPTY;
      this.transition("Stable", "the leader sent the assignment");
      for (const m of this.members.values()) {
        m.awaitingSync?.({ errorCode: ErrorCode.NONE, assignment: m.assignment });
        m.awaitingSync = undefined;
      }
    }
    return synced;
  }

  heartbeat(memberId: string, generationId: number): ErrorCodeValue {
    if (this.state === "Dead") return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const member = this.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== this.generation) return ErrorCode.ILLEGAL_GENERATION;
    this.scheduleExpiry(member);
    return this.state === "PreparingRebalance" ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  leave(memberId: string): ErrorCodeValue {
    const cancelPending = this.pending.get(memberId);
    if (cancelPending) {
      cancelPending();
      this.pending.delete(memberId);
      return ErrorCode.NONE;
    }
    const member = this.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.removeMember(member, `member ${memberId} left the group`);
    return ErrorCode.NONE;
  }

  /** Whether an offset commit from this member and generation is accepted. */
  checkCommit(memberId: string, generationId: number): ErrorCodeValue {
    if (generationId < 0 && this.members.size === 0) return ErrorCode.NONE; // a consumer outside group management
    const member = this.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== this.generation) return ErrorCode.ILLEGAL_GENERATION;
    if (this.state === "CompletingRebalance") return ErrorCode.REBALANCE_IN_PROGRESS;
    this.scheduleExpiry(member);
    return ErrorCode.NONE;
  }

  /** Stops every timer (broker shutdown). */
  shutdown(): void {
    this.rebalanceTimer?.();
    for (const m of this.members.values()) m.expiry?.();
    for (const cancel of this.pending.values()) cancel();
  }

  private failedJoin(errorCode: ErrorCodeValue, memberId: string): JoinResult {
    return { errorCode, generationId: -1, protocolName: "", leader: "", memberId, members: [] };
  }

  /** Whether the member's protocol type and protocols fit the group's. */
  private supports(req: JoinRequest): boolean {
    if (req.protocolType === "" || req.protocols.length === 0) return false;
    if (this.members.size === 0) return true;
    if (req.protocolType !== this.protocolType) return false;
    return req.protocols.some((p) => [...this.members.values()].every((m) => m.memberId === req.memberId || m.protocols.some((q) => q.name === p.name)));
  }

  private addMember(memberId: string, req: JoinRequest): Promise<JoinResult> {
    const member: Member = {
      memberId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      protocols: req.protocols,
      assignment: EMPTY,
    };
    if (this.members.size === 0) this.protocolType = req.protocolType;
    this.members.set(memberId, member);
    this.leader ??= memberId;
    const joined = this.awaitJoin(member);
    if (this.state === "PreparingRebalance") this.maybeCompleteJoin();
    else this.prepareRebalance(`member ${memberId} joined`);
    return joined;
  }

  private update(member: Member, req: JoinRequest): void {
    member.protocols = req.protocols;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
  }

  private awaitJoin(member: Member): Promise<JoinResult> {
    // A member waiting to join is not expired: the rebalance timeout bounds its wait instead.
    member.expiry?.();
    member.expiry = undefined;
    member.awaitingJoin?.(this.failedJoin(ErrorCode.UNKNOWN_MEMBER_ID, member.memberId));
    return new Promise<JoinResult>((resolve) => (member.awaitingJoin = resolve));
  }

  private prepareRebalance(reason: string): void {
    if (this.state === "CompletingRebalance")
      for (const m of this.members.values()) {
        m.awaitingSync?.({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY });
        m.awaitingSync = undefined;
      }
    this.initialDelay = this.state === "Empty" && this.settings.initialRebalanceDelayMs > 0;
    this.transition("PreparingRebalance", reason);
    const delay = this.initialDelay ? this.settings.initialRebalanceDelayMs : Math.max(0, ...[...this.members.values()].map((m) => m.rebalanceTimeoutMs));
    this.rebalanceTimer?.();
    this.rebalanceTimer = this.clock.schedule(() => {
      this.rebalanceTimer = undefined;
      this.initialDelay = false;
      if (this.state === "PreparingRebalance") this.completeJoin();
    }, delay);
    this.maybeCompleteJoin();
  }

  private maybeCompleteJoin(): void {
    if (this.state !== "PreparingRebalance" || this.initialDelay || this.pending.size > 0) return;
    for (const m of this.members.values()) if (!m.awaitingJoin) return;
    this.completeJoin();
  }

  private completeJoin(): void {
    this.rebalanceTimer?.();
    this.rebalanceTimer = undefined;
    for (const m of [...this.members.values()]) {
      if (m.awaitingJoin) continue;
      this.logger.info({ group: this.groupId, member: m.memberId }, "member did not rejoin within the rebalance timeout: removed");
      this.members.delete(m.memberId);
    }
    this.generation++;
    if (this.members.size === 0) {
      this.protocolName = null;
      this.leader = null;
      this.transition("Empty", "no members left");
      return;
    }
    this.protocolName = this.selectProtocol();
    if (this.leader === null || !this.members.has(this.leader)) this.leader = this.members.keys().next().value!;
    this.transition("CompletingRebalance", `generation ${this.generation} formed with protocol ${this.protocolName}`);
    for (const m of this.members.values()) {
      const resolve = m.awaitingJoin!;
      m.awaitingJoin = undefined;
      this.scheduleExpiry(m);
      resolve(this.joinResult(m));
    }
  }

  private joinResult(member: Member): JoinResult {
    const protocolName = this.protocolName ?? "";
    return {
      errorCode: ErrorCode.NONE,
      generationId: this.generation,
      protocolName,
      leader: this.leader ?? "",
      memberId: member.memberId,
      members:
        member.memberId === this.leader
          ? [...this.members.values()].map((m) => ({ memberId: m.memberId, metadata: m.protocols.find((p) => p.name === protocolName)?.metadata ?? EMPTY }))
          : [],
    };
  }

  /** The protocol every member supports that most members list first (Kafka's vote). */
  private selectProtocol(): string {
    const all = [...this.members.values()];
    const candidates = all[0]!.protocols.map((p) => p.name).filter((name) => all.every((m) => m.protocols.some((p) => p.name === name)));
    const votes = new Map<string, number>(candidates.map((c) => [c, 0]));
    for (const m of all) {
      const choice = m.protocols.find((p) => votes.has(p.name))!.name;
      votes.set(choice, votes.get(choice)! + 1);
    }
    return [...votes].sort((a, b) => b[1] - a[1])[0]![0];
  }

  private scheduleExpiry(member: Member): void {
    member.expiry?.();
    member.expiry = this.clock.schedule(() => {
      member.expiry = undefined;
      if (this.members.get(member.memberId) === member && !member.awaitingJoin) this.removeMember(member, `member ${member.memberId}'s session timed out`);
    }, member.sessionTimeoutMs);
  }

  private removeMember(member: Member, reason: string): void {
    member.expiry?.();
    this.members.delete(member.memberId);
    member.awaitingJoin?.(this.failedJoin(ErrorCode.UNKNOWN_MEMBER_ID, member.memberId));
    member.awaitingSync?.({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY });
    if (this.leader === member.memberId) this.leader = this.members.keys().next().value ?? null;
    if (this.state === "PreparingRebalance") this.maybeCompleteJoin();
    else if (this.state === "Stable" || this.state === "CompletingRebalance") this.prepareRebalance(reason);
  }
}

function sameProtocols(a: Protocol[], b: Protocol[]): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i]!.name && p.metadata.equals(b[i]!.metadata));
}
