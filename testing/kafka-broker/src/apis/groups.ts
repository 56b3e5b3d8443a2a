/**
 * Consumer groups: FindCoordinator v0-v2, JoinGroup v0-v5, SyncGroup v0-v3, Heartbeat v0-v3,
 * LeaveGroup v0-v3, OffsetCommit v2-v7, OffsetFetch v1-v5. The membership logic is in
 * groups/group.ts. Static membership (group.instance.id) is not supported: such members are handled as
 * dynamic ones.
 */
import type { OffsetCommit } from "../groups/offset-store.js";
import { ApiKey, defineApi } from "../protocol/api.js";
import { ErrorCode } from "../protocol/errors.js";
import type { Reader } from "../protocol/wire.js";
import type { JoinResult, Protocol, SyncResult } from "../groups/group.js";

export const findCoordinator = defineApi<null, { nodeId: number; host: string; port: number }>({
  key: ApiKey.FindCoordinator,
  name: "FindCoordinator",
  minVersion: 0,
  maxVersion: 2,
  decode(r, version) {
    r.string(); // key: a group or transactional id, all coordinated by this node
    if (version >= 1) r.int8(); // key type
    return null;
  },
  handle(_req, ctx) {
    return { nodeId: ctx.broker.nodeId, host: ctx.broker.host, port: ctx.broker.port };
  },
  encode(w, version, res) {
    if (version >= 1) w.int32(0);
    w.int16(ErrorCode.NONE);
    if (version >= 1) w.nullableString(null);
    w.int32(res.nodeId).string(res.host).int32(res.port);
  },
});

interface JoinGroupRequest {
  groupId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  memberId: string;
  protocolType: string;
  protocols: Protocol[];
}

export const joinGroup = defineApi<JoinGroupRequest, JoinResult>({
  key: ApiKey.JoinGroup,
  name: "JoinGroup",
  minVersion: 0,
  maxVersion: 5,
  decode(r, version) {
    const groupId = r.string();
    const sessionTimeoutMs = r.int32();
    const rebalanceTimeoutMs = version >= 1 ? r.int32() : sessionTimeoutMs;
    const memberId = r.string();
    if (version >= 5) r.nullableString(); // group instance id
    const protocolType = r.string();
    const protocols = r.array((r) => ({ name: r.string(), metadata: Buffer.from(r.bytes()) }));
    return { groupId, sessionTimeoutMs, rebalanceTimeoutMs, memberId, protocolType, protocols };
  },
  handle(req, ctx) {
    return ctx.broker.groups.join(
      req.groupId,
      {
        memberId: req.memberId,
        clientId: ctx.clientId,
        clientHost: ctx.clientHost,
        sessionTimeoutMs: req.sessionTimeoutMs,
        rebalanceTimeoutMs: req.rebalanceTimeoutMs,
        protocolType: req.protocolType,
        protocols: req.protocols,
      },
      ctx.version,
    );
  },
  encode(w, version, res) {
    if (version >= 2) w.int32(0);
    w.int16(res.errorCode).int32(res.generationId).string(res.protocolName).string(res.leader).string(res.memberId);
    w.array(res.members, (w, m) => {
      w.string(m.memberId);
      if (version >= 5) w.nullableString(null);
      w.bytes(m.metadata);
    });
  },
});

interface MemberFields {
  groupId: string;
  generationId: number;
  memberId: string;
}

/** The member's identity that opens SyncGroup and Heartbeat (with the group instance id from v3). */
function readMember(r: Reader, version: number): MemberFields {
  const member = { groupId: r.string(), generationId: r.int32(), memberId: r.string() };
  if (version >= 3) r.nullableString();
  return member;
}

export const syncGroup = defineApi<MemberFields & { assignments: Map<string, Buffer> }, SyncResult>({
  key: ApiKey.SyncGroup,
  name: "SyncGroup",
  minVersion: 0,
  maxVersion: 3,
  decode(r, version) {
    const member = readMember(r, version);
    return { ...member, assignments: new Map(r.array((r) => [r.string(), Buffer.from(r.bytes())] as const)) };
  },
  handle(req, ctx) {
    return ctx.broker.groups.sync(req.groupId, req.memberId, req.generationId, req.assignments);
  },
  encode(w, version, res) {
    if (version >= 1) w.int32(0);
    w.int16(res.errorCode).bytes(res.assignment);
  },
});

export const heartbeat = defineApi<MemberFields, number>({
  key: ApiKey.Heartbeat,
  name: "Heartbeat",
  minVersion: 0,
  maxVersion: 3,
  decode: readMember,
  handle(req, ctx) {
    return ctx.broker.groups.heartbeat(req.groupId, req.memberId, req.generationId);
  },
  encode(w, version, errorCode) {
    if (version >= 1) w.int32(0);
    w.int16(errorCode);
  },
});

export const leaveGroup = defineApi<{ groupId: string; memberIds: string[] }, Array<{ memberId: string; errorCode: number }>>({
  key: ApiKey.LeaveGroup,
  name: "LeaveGroup",
  minVersion: 0,
  maxVersion: 3,
  decode(r, version) {
    const groupId = r.string();
    if (version < 3) return { groupId, memberIds: [r.string()] };
    const memberIds = r.array((r) => {
      const memberId = r.string();
      r.nullableString();
      return memberId;
    });
    return { groupId, memberIds };
  },
  handle(req, ctx) {
    return req.memberIds.map((memberId) => ({ memberId, errorCode: ctx.broker.groups.leave(req.groupId, memberId) }));
  },
  encode(w, version, results) {
    if (version >= 1) w.int32(0);
    if (version < 3) {
      w.int16(results[0]?.errorCode ?? ErrorCode.NONE);
      return;
    }
    w.int16(ErrorCode.NONE);
    w.array(results, (w, m) => w.string(m.memberId).nullableString(null).int16(m.errorCode));
  },
});

interface OffsetCommitRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  topics: Array<{ name: string; partitions: Array<{ partition: number; offset: number; metadata: string | null }> }>;
}

type PartitionErrors = Array<{ name: string; partitions: Array<{ partition: number; errorCode: number }> }>;

export const offsetCommit = defineApi<OffsetCommitRequest, PartitionErrors>({
  key: ApiKey.OffsetCommit,
  name: "OffsetCommit",
  minVersion: 2,
  maxVersion: 7,
  decode(r, version) {
    const groupId = r.string();
    const generationId = r.int32();
    const memberId = r.string();
    if (version >= 7) r.nullableString();
    if (version <= 4) r.int64(); // retention time: offsets are kept until the topic goes
    const topics = r.array((r) => ({
      name: r.string(),
      partitions: r.array((r) => {
        const partition = r.int32();
        const offset = r.int64();
        if (version >= 6) r.int32(); // leader epoch
        return { partition, offset, metadata: r.nullableString() };
      }),
    }));
    return { groupId, generationId, memberId, topics };
  },
  async handle(req, ctx) {
    const known = (topic: string, partition: number) => ctx.broker.logs.partition(topic, partition) !== undefined;
    const commits: OffsetCommit[] = req.topics.flatMap((t) =>
      t.partitions.filter((p) => known(t.name, p.partition)).map((p) => ({ topic: t.name, partition: p.partition, offset: p.offset, metadata: p.metadata })),
    );
    const code = await ctx.broker.groups.commitOffsets(req.groupId, req.memberId, req.generationId, commits);
    return req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: known(t.name, p.partition) ? code : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION })),
    }));
  },
  encode(w, version, topics) {
    if (version >= 3) w.int32(0);
    w.array(topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => w.int32(p.partition).int16(p.errorCode));
    });
  },
});

type OffsetFetchResponse = Array<{ name: string; partitions: Array<{ partition: number; offset: number; metadata: string | null }> }>;

export const offsetFetch = defineApi<{ groupId: string; topics: Array<{ name: string; partitions: number[] }> | null }, OffsetFetchResponse>({
  key: ApiKey.OffsetFetch,
  name: "OffsetFetch",
  minVersion: 1,
  maxVersion: 5,
  decode(r) {
    const groupId = r.string();
    const topics = r.nullableArray((r) => ({ name: r.string(), partitions: r.array((r) => r.int32()) }));
    return { groupId, topics };
  },
  handle(req, ctx) {
    const groups = ctx.broker.groups;
    if (req.topics === null) {
      const byTopic = new Map<string, OffsetFetchResponse[number]>();
      for (const c of groups.allCommitted(req.groupId)) {
        let t = byTopic.get(c.topic);
        if (!t) byTopic.set(c.topic, (t = { name: c.topic, partitions: [] }));
        t.partitions.push({ partition: c.partition, offset: c.offset, metadata: c.metadata });
      }
      return [...byTopic.values()];
    }
    return req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((partition) => {
        const c = groups.committed(req.groupId, t.name, partition);
        return { partition, offset: c?.offset ?? -1, metadata: c ? c.metadata : "" };
      }),
    }));
  },
  encode(w, version, topics) {
    if (version >= 3) w.int32(0);
    w.array(topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => {
        w.int32(p.partition).int64(p.offset);
        if (version >= 5) w.int32(-1);
        w.nullableString(p.metadata).int16(ErrorCode.NONE);
      });
    });
    if (version >= 2) w.int16(ErrorCode.NONE);
  },
});
