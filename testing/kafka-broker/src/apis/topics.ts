/**
 * Topic metadata and administration: Metadata v0-v8, CreateTopics v0-v4, DeleteTopics v0-v3,
 * CreatePartitions v0-v1. There is one broker (node 0), leader and only replica of every partition.
 */
import { ApiKey, type BrokerState, defineApi } from "../protocol/api.js";
import { ErrorCode, KafkaError } from "../protocol/errors.js";
import { topicNameProblem } from "../log/log-manager.js";

/** Kafka's "authorized operations were not asked for". */
const OPERATIONS_NOT_REQUESTED = -2147483648;

interface TopicMetadata {
  errorCode: number;
  name: string;
  partitions: number[];
}

async function topicMetadata(broker: BrokerState, name: string, autoCreate: boolean): Promise<TopicMetadata> {
  const existing = broker.logs.get(name);
  if (existing) return { errorCode: ErrorCode.NONE, name, partitions: existing.partitions.map((p) => p.partition) };
  if (topicNameProblem(name)) return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, name, partitions: [] };
  if (!autoCreate || !broker.autoCreateTopics) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name, partitions: [] };
  try {
    const created = await broker.logs.createTopic(name, broker.defaultPartitions);
    return { errorCode: ErrorCode.NONE, name, partitions: created.partitions.map((p) => p.partition) };
  } catch (err) {
    // Created by a concurrent request meanwhile.
    if (err instanceof KafkaError && err.code === ErrorCode.TOPIC_ALREADY_EXISTS) return topicMetadata(broker, name, false);
    throw err;
  }
}

export const metadata = defineApi<{ topics: string[] | null; autoCreate: boolean }, { topics: TopicMetadata[]; broker: BrokerState }>({
  key: ApiKey.Metadata,
  name: "Metadata",
  minVersion: 0,
  maxVersion: 8,
  decode(r, version) {
    let topics = r.nullableArray((r) => r.string());
    // v0 has no null: an empty list means every topic.
    if (version === 0 && topics?.length === 0) topics = null;
    const autoCreate = version >= 4 ? r.bool() : true;
    if (version >= 8) {
      r.bool(); // include cluster authorized operations
      r.bool(); // include topic authorized operations
    }
    return { topics, autoCreate };
  },
  async handle(req, ctx) {
    const broker = ctx.broker;
    const topics =
      req.topics === null
        ? broker.logs.all().map((t) => ({ errorCode: ErrorCode.NONE, name: t.name, partitions: t.partitions.map((p) => p.partition) }))
        : await Promise.all(req.topics.map((name) => topicMetadata(broker, name, req.autoCreate)));
    return { topics, broker };
  },
  encode(w, version, { topics, broker }) {
    if (version >= 3) w.int32(0);
    w.array([broker], (w, b) => {
      w.int32(b.nodeId).string(b.host).int32(b.port);
      if (version >= 1) w.nullableString(null);
    });
    if (version >= 2) w.nullableString(broker.clusterId);
    if (version >= 1) w.int32(broker.nodeId);
    w.array(topics, (w, t) => {
      w.int16(t.errorCode).string(t.name);
      if (version >= 1) w.bool(false);
      w.array(t.partitions, (w, p) => {
        w.int16(ErrorCode.NONE).int32(p).int32(broker.nodeId);
        if (version >= 7) w.int32(0);
        w.array([broker.nodeId], (w, n) => w.int32(n));
        w.array([broker.nodeId], (w, n) => w.int32(n));
        if (version >= 5) w.array([], () => {});
      });
      if (version >= 8) w.int32(OPERATIONS_NOT_REQUESTED);
    });
    if (version >= 8) w.int32(OPERATIONS_NOT_REQUESTED);
  },
});

interface CreateTopic {
  name: string;
  numPartitions: number;
  replicationFactor: number;
  assignments: Array<{ partition: number; brokers: number[] }>;
}

interface TopicResult {
  name: string;
  errorCode: number;
  errorMessage: string | null;
}

function topicResult(name: string, err: unknown): TopicResult {
  if (err === undefined) return { name, errorCode: ErrorCode.NONE, errorMessage: null };
  if (err instanceof KafkaError) return { name, errorCode: err.code, errorMessage: err.message };
  throw err;
}

function checkReplicas(replicationFactor: number, brokers: number[][], nodeId: number): void {
  if (replicationFactor !== -1 && replicationFactor !== 1)
    throw new KafkaError(ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor ${replicationFactor} is impossible: this test broker is a single node`);
  if (brokers.some((b) => b.length !== 1 || b[0] !== nodeId))
    throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `replicas can only be assigned to node ${nodeId}, the one broker`);
}

export const createTopics = defineApi<{ topics: CreateTopic[]; validateOnly: boolean }, TopicResult[]>({
  key: ApiKey.CreateTopics,
  name: "CreateTopics",
  minVersion: 0,
  maxVersion: 4,
  decode(r, version) {
    const topics = r.array((r) => {
      const name = r.string();
      const numPartitions = r.int32();
      const replicationFactor = r.int16();
      const assignments = r.array((r) => ({ partition: r.int32(), brokers: r.array((r) => r.int32()) }));
      r.array((r) => [r.string(), r.nullableString()]); // configs: this broker has no per-topic configuration
      return { name, numPartitions, replicationFactor, assignments };
    });
    r.int32(); // timeout
    const validateOnly = version >= 1 ? r.bool() : false;
    return { topics, validateOnly };
  },
  async handle(req, ctx) {
    const results: TopicResult[] = [];
    for (const t of req.topics) {
      try {
        checkReplicas(
          t.replicationFactor,
          t.assignments.map((a) => a.brokers),
          ctx.broker.nodeId,
        );
        const partitions = t.assignments.length > 0 ? t.assignments.length : t.numPartitions === -1 ? ctx.broker.defaultPartitions : t.numPartitions;
        if (req.validateOnly) {
          const problem = topicNameProblem(t.name);
          if (problem) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, problem);
          if (ctx.broker.logs.get(t.name)) throw new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic "${t.name}" already exists`);
        } else await ctx.broker.logs.createTopic(t.name, partitions);
        results.push(topicResult(t.name, undefined));
      } catch (err) {
        results.push(topicResult(t.name, err));
      }
    }
    return results;
  },
  encode(w, version, results) {
    if (version >= 2) w.int32(0);
    w.array(results, (w, t) => {
      w.string(t.name).int16(t.errorCode);
      if (version >= 1) w.nullableString(t.errorMessage);
    });
  },
});

export const deleteTopics = defineApi<string[], TopicResult[]>({
  key: ApiKey.DeleteTopics,
  name: "DeleteTopics",
  minVersion: 0,
  maxVersion: 3,
  decode(r) {
    const names = r.array((r) => r.string());
    r.int32(); // timeout
    return names;
  },
  async handle(names, ctx) {
    const results: TopicResult[] = [];
    for (const name of names) {
      try {
        await ctx.broker.logs.deleteTopic(name);
        results.push(topicResult(name, undefined));
      } catch (err) {
        results.push(topicResult(name, err));
      }
    }
    return results;
  },
  encode(w, version, results) {
    if (version >= 1) w.int32(0);
    w.array(results, (w, t) => w.string(t.name).int16(t.errorCode));
  },
});

export const createPartitions = defineApi<
  { topics: Array<{ name: string; count: number; assignments: number[][] | null }>; validateOnly: boolean },
  TopicResult[]
>({
  key: ApiKey.CreatePartitions,
  name: "CreatePartitions",
  minVersion: 0,
  maxVersion: 1,
  decode(r) {
    const topics = r.array((r) => ({ name: r.string(), count: r.int32(), assignments: r.nullableArray((r) => r.array((r) => r.int32())) }));
    r.int32(); // timeout
    return { topics, validateOnly: r.bool() };
  },
  async handle(req, ctx) {
    const results: TopicResult[] = [];
    for (const t of req.topics) {
      try {
        checkReplicas(-1, t.assignments ?? [], ctx.broker.nodeId);
        const topic = ctx.broker.logs.get(t.name);
        if (!topic) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${t.name}" does not exist`);
        if (t.count <= topic.partitions.length)
          throw new KafkaError(
            ErrorCode.INVALID_PARTITIONS,
            `topic "${t.name}" has ${topic.partitions.length} partitions; the new count must be above that (asked: ${t.count})`,
          );
        if (!req.validateOnly) await ctx.broker.logs.addPartitions(t.name, t.count);
        results.push(topicResult(t.name, undefined));
      } catch (err) {
        results.push(topicResult(t.name, err));
      }
    }
    return results;
  },
  encode(w, _version, results) {
    w.int32(0);
    w.array(results, (w, t) => w.string(t.name).int16(t.errorCode).nullableString(t.errorMessage));
  },
});
