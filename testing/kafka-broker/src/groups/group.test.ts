import { ManualClock, createLogger } from "@riffle/shared";
import { describe, expect, it } from "vitest";
import { ErrorCode } from "../protocol/errors.js";
import { Group, type JoinRequest, type JoinResult } from "./group.js";

const logger = createLogger("kafka-broker-test");
logger.level = "silent";

function request(memberId: string, overrides: Partial<JoinRequest> = {}): JoinRequest {
  return {
    memberId,
    clientId: "client",
    clientHost: "127.0.0.1",
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 30_000,
    protocolType: "consumer",
    protocols: [{ name: "range", metadata: Buffer.from(memberId) }],
    ...overrides,
  };
}

/** Joins as a new member the way clients of JoinGroup v4+ do: first for an id, then with it. */
async function joinNew(group: Group): Promise<{ memberId: string; joined: Promise<JoinResult> | JoinResult }> {
  const first = (await group.join(request(""), 5)) as JoinResult;
  expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
  return { memberId: first.memberId, joined: group.join(request(first.memberId), 5) };
}

describe("Group", () => {
  it("forms a generation with the first member, which leads and assigns in SyncGroup", async () => {
    const group = new Group("g", new ManualClock(), logger, { initialRebalanceDelayMs: 0 });
    const { memberId, joined } = await joinNew(group);
    const result = await joined;
    expect(result).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1, leader: memberId, protocolName: "range" });
    expect(result.members.map((m) => m.memberId)).toEqual([memberId]);
    expect(group.currentState).toBe("CompletingRebalance");
    const synced = await group.sync(memberId, 1, new Map([[memberId, Buffer.from("all")]]));
    expect(synced).toEqual({ errorCode: ErrorCode.NONE, assignment: Buffer.from("all") });
    expect(group.currentState).toBe("Stable");
  });

  it("rebalances when a second member joins: the first learns it from its heartbeat and rejoins", async () => {
    const group = new Group("g", new ManualClock(), logger, { initialRebalanceDelayMs: 0 });
    const a = await joinNew(group);
    await a.joined;
    await group.sync(a.memberId, 1, new Map());
    const b = await joinNew(group);
    expect(group.currentState).toBe("PreparingRebalance");
    expect(group.heartbeat(a.memberId, 1)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const aAgain = await group.join(request(a.memberId), 5);
    const [ra, rb] = await Promise.all([aAgain, b.joined]);
    expect(ra.generationId).toBe(2);
    expect(rb.generationId).toBe(2);
    expect(ra.leader).toBe(a.memberId);
    expect(ra.members.map((m) => m.memberId).sort()).toEqual([a.memberId, b.memberId].sort());
    expect(rb.members).toEqual([]); // only the leader gets the members' metadata
    const followerSync = group.sync(b.memberId, 2, new Map());
    await group.sync(a.memberId, 2, new Map([[b.memberId, Buffer.from("half")]]));
    expect(await followerSync).toEqual({ errorCode: ErrorCode.NONE, assignment: Buffer.from("half") });
  });

  it("drops a member whose session expires, and one that does not rejoin within the rebalance timeout", async () => {
    const clock = new ManualClock();
    const group = new Group("g", clock, logger, { initialRebalanceDelayMs: 0 });
    const a = await joinNew(group);
    await a.joined;
    await group.sync(a.memberId, 1, new Map());
    const b = await joinNew(group); // a must rejoin: it keeps heartbeating but never does
    for (let heartbeats = 0; heartbeats < 6; heartbeats++) {
      expect(group.heartbeat(a.memberId, 1)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
      clock.advance(heartbeats < 5 ? 5_000 : 4_999);
    }
    expect(group.currentState).toBe("PreparingRebalance"); // 29 999 ms after b joined
    clock.advance(1);
    const rb = await b.joined;
    expect(rb).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 2, leader: b.memberId });
    expect(group.heartbeat(a.memberId, 2)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);

    await group.sync(b.memberId, 2, new Map());
    clock.advance(9_999);
    expect(group.heartbeat(b.memberId, 2)).toBe(ErrorCode.NONE); // the heartbeat restarts the session
    clock.advance(9_999);
    expect(group.currentState).toBe("Stable");
    clock.advance(1);
    expect(group.currentState).toBe("Empty");
    expect(group.heartbeat(b.memberId, 2)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it("refuses stale generations, unknown members and members without a common protocol", async () => {
    const group = new Group("g", new ManualClock(), logger, { initialRebalanceDelayMs: 0 });
    const a = await joinNew(group);
    await a.joined;
    expect(group.heartbeat(a.memberId, 0)).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(group.heartbeat("nobody", 1)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await group.sync(a.memberId, 7, new Map())).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    const other = await group.join(request("", { protocols: [{ name: "roundrobin", metadata: Buffer.alloc(0) }] }), 5);
    expect(other.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect(group.checkCommit(a.memberId, 1)).toBe(ErrorCode.REBALANCE_IN_PROGRESS); // not synced yet
  });
});
