import type { Clock, Logger } from "@riffle/shared";
import { ErrorCode, type ErrorCodeValue } from "../protocol/errors.js";
import { Group, type GroupSettings, type JoinRequest, type JoinResult, type SyncResult } from "./group.js";
import type { CommittedOffset, OffsetCommit, OffsetStore } from "./offset-store.js";

export interface GroupCoordinatorSettings extends GroupSettings {
  /** Kafka's group.min.session.timeout.ms and group.max.session.timeout.ms. */
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
}

/**
 * The group coordinator of this single node: every group's membership (see Group) and its committed
 * offsets. Membership lives in memory only: after a restart members get UNKNOWN_MEMBER_ID and join
 * again, while committed offsets survive (OffsetStore).
 */
export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();

  constructor(
    private readonly offsets: OffsetStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly settings: GroupCoordinatorSettings,
  ) {}

  join(groupId: string, req: JoinRequest, version: number): Promise<JoinResult> | JoinResult {
    const fail = (errorCode: ErrorCodeValue): JoinResult => ({
      errorCode,
      generationId: -1,
      protocolName: "",
      leader: "",
      memberId: req.memberId,
      members: [],
    });
    if (groupId === "") return fail(ErrorCode.INVALID_GROUP_ID);
    if (req.sessionTimeoutMs < this.settings.minSessionTimeoutMs || req.sessionTimeoutMs > this.settings.maxSessionTimeoutMs)
      return fail(ErrorCode.INVALID_SESSION_TIMEOUT);
    let group = this.groups.get(groupId);
    if (!group) {
      if (req.memberId !== "") return fail(ErrorCode.UNKNOWN_MEMBER_ID);
      group = new Group(groupId, this.clock, this.logger, this.settings);
      this.groups.set(groupId, group);
    }
    return group.join(req, version);
  }

  sync(groupId: string, memberId: string, generationId: number, assignments: Map<string, Buffer>): Promise<SyncResult> | SyncResult {
    const group = this.groups.get(groupId);
    if (!group) return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: Buffer.alloc(0) };
    return group.sync(memberId, generationId, assignments);
  }

  heartbeat(groupId: string, memberId: string, generationId: number): ErrorCodeValue {
    return this.groups.get(groupId)?.heartbeat(memberId, generationId) ?? ErrorCode.UNKNOWN_MEMBER_ID;
  }

  leave(groupId: string, memberId: string): ErrorCodeValue {
    return this.groups.get(groupId)?.leave(memberId) ?? ErrorCode.UNKNOWN_MEMBER_ID;
  }

  /** Checks the member and generation, then stores the offsets durably. */
  async commitOffsets(groupId: string, memberId: string, generationId: number, commits: OffsetCommit[]): Promise<ErrorCodeValue> {
    if (groupId === "") return ErrorCode.INVALID_GROUP_ID;
    const group = this.groups.get(groupId);
    const check = group ? group.checkCommit(memberId, generationId) : generationId < 0 ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
    if (check !== ErrorCode.NONE) return check;
    await this.offsets.commit(groupId, commits);
    return ErrorCode.NONE;
  }

  /** Offsets a transaction committed (no membership check: the transaction coordinator vouched for the producer). */
  commitTransactionalOffsets(groupId: string, commits: OffsetCommit[]): Promise<void> {
    return this.offsets.commit(groupId, commits);
  }

  committed(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.offsets.get(groupId, topic, partition);
  }

  allCommitted(groupId: string): Array<CommittedOffset & { topic: string; partition: number }> {
    return this.offsets.all(groupId);
  }

  shutdown(): void {
    for (const g of this.groups.values()) g.shutdown();
  }
}
