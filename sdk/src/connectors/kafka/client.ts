import { RiffleError, describeError, type ErrorCode } from "@riffle/shared";
import { Kafka, logLevel } from "kafkajs";

/** What every Kafka connector is built with. */
export interface KafkaClientSettings {
  /** host:port of one or more brokers. */
  bootstrapServers: string[];
  /** Client id the brokers log. */
  clientId: string;
  /** How long a connection attempt may take before it counts as failed (ms). */
  connectionTimeoutMs: number;
  /** How long one request may take (ms). */
  requestTimeoutMs: number;
}

export const DEFAULT_CLIENT_SETTINGS: Omit<KafkaClientSettings, "bootstrapServers"> = {
  clientId: "riffle",
  connectionTimeoutMs: 5000,
  requestTimeoutMs: 30_000,
};

/**
 * The parts of kafkajs's protocol layer the connectors use (kafkajs ships no types for them). Its
 * public consumer reads only as a member of a consumer group, while a FLIP-27 reader reads the
 * partitions its enumerator assigned; and its public producer hides a transaction's producer id and
 * epoch, which committing a transaction recovered from a checkpoint needs (decision record 0012).
 * Both go through kafkajs's Cluster and Broker, which speak the protocol as kafkajs's own clients do.
 */
export interface KafkaCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  refreshMetadata(): Promise<void>;
  addMultipleTargetTopics(topics: string[]): Promise<void>;
  findTopicPartitionMetadata(topic: string): Array<{ partitionId: number; leader: number }>;
  findBroker(args: { nodeId: number }): Promise<KafkaBroker>;
  findControllerBroker(): Promise<KafkaBroker>;
  /** coordinatorType 0: a consumer group's coordinator; 1: a transactional id's. */
  findGroupCoordinator(args: { groupId: string; coordinatorType: number }): Promise<KafkaBroker>;
}

export interface FetchedPartition {
  partition: number;
  errorCode: number;
  highWatermark: string;
  lastStableOffset: string;
  abortedTransactions: Array<{ producerId: string; firstOffset: string }>;
  messages: RawMessage[];
}

export interface RawMessage {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | Buffer[] | undefined>;
  isControlRecord?: boolean;
}

export interface KafkaBroker {
  fetch(args: {
    replicaId?: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; fetchOffset: string; maxBytes: number }> }>;
  }): Promise<{ responses: Array<{ topicName: string; partitions: FetchedPartition[] }> }>;
  produce(args: {
    transactionalId?: string;
    producerId: number;
    producerEpoch: number;
    acks: number;
    timeout: number;
    topicData: Array<{
      topic: string;
      partitions: Array<{
        partition: number;
        firstSequence: number;
        messages: Array<{ key: Buffer | null; value: Buffer | null; headers?: Record<string, Buffer>; timestamp?: number }>;
      }>;
    }>;
  }): Promise<unknown>;
  /** transactionalId null: an idempotent producer's id. */
  initProducerId(args: { transactionalId: string | null; transactionTimeout: number }): Promise<{ producerId: number; producerEpoch: number }>;
  addPartitionsToTxn(args: {
    transactionalId: string;
    producerId: number;
    producerEpoch: number;
    topics: Array<{ topic: string; partitions: number[] }>;
  }): Promise<unknown>;
  endTxn(args: { transactionalId: string; producerId: number; producerEpoch: number; transactionResult: boolean }): Promise<unknown>;
  offsetCommit(args: {
    groupId: string;
    groupGenerationId: number;
    memberId: string;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>;
  }): Promise<unknown>;
}

/** A kafkajs client for the settings; kafkajs logs nothing itself (its errors come back as errors). */
export function createKafka(settings: KafkaClientSettings): Kafka {
  return new Kafka({
    brokers: settings.bootstrapServers,
    clientId: settings.clientId,
    connectionTimeout: settings.connectionTimeoutMs,
    requestTimeout: settings.requestTimeoutMs,
    logLevel: logLevel.NOTHING,
    // A few quick retries: a broker that stays away fails the task, and the job's restart strategy
    // decides (Flink's connectors do the same).
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2000 },
  });
}

/** kafkajs's Cluster of a client: its protocol layer (see KafkaCluster). */
export function createCluster(kafka: Kafka, options: { isolationLevel?: number } = {}): KafkaCluster {
  const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === "private:Kafka:createCluster");
  const create = symbol ? (kafka as unknown as Record<symbol, unknown>)[symbol] : undefined;
  if (typeof create !== "function") throw new RiffleError("INTERNAL", "this kafkajs version does not expose its protocol layer (kafkajs 2.2 does)");
  return create({ allowAutoTopicCreation: false, ...options }) as KafkaCluster;
}

export const READ_UNCOMMITTED = 0;
export const READ_COMMITTED = 1;

/** kafkajs's error type names that mean the producer was fenced by a newer one with the same transactional id. */
const FENCED = new Set(["PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH"]);
/** kafkajs's errors for a broker that does not answer; a coordinator is "not found" when no broker answered the lookup. */
const UNREACHABLE = new Set([
  "KafkaJSConnectionError",
  "KafkaJSNumberOfRetriesExceeded",
  "KafkaJSConnectionClosedError",
  "KafkaJSRequestTimeoutError",
  "KafkaJSGroupCoordinatorNotFound",
]);

/** kafkajs's protocol error type (e.g. "PRODUCER_FENCED"), if the error is one. */
export function kafkaErrorType(err: unknown): string | undefined {
  let e = err as { type?: unknown; originalError?: unknown; cause?: unknown } | undefined;
  for (let i = 0; e && i < 5; i++) {
    if (typeof e.type === "string") return e.type;
    e = (e.originalError ?? e.cause) as typeof e;
  }
  return undefined;
}

function isUnreachable(err: unknown): boolean {
  let e = err as { name?: unknown; originalError?: unknown; cause?: unknown } | undefined;
  for (let i = 0; e && i < 5; i++) {
    if (typeof e.name === "string" && UNREACHABLE.has(e.name)) return true;
    e = (e.originalError ?? e.cause) as typeof e;
  }
  return false;
}

/** A kafkajs error as a RiffleError with a code that says what happened; `what` says what was being done. */
export function kafkaError(err: unknown, what: string, servers: readonly string[]): RiffleError {
  if (err instanceof RiffleError) return err;
  const type = kafkaErrorType(err);
  let code: ErrorCode = "KAFKA_ERROR";
  let hint = "";
  if (type && FENCED.has(type)) {
    code = "KAFKA_PRODUCER_FENCED";
    hint = " (a newer producer with the same transactional id took over: this writer is a zombie of an earlier attempt)";
  } else if (type === "UNKNOWN_TOPIC_OR_PARTITION") {
    code = "KAFKA_TOPIC_NOT_FOUND";
    hint = "; create the topic first";
  } else if (isUnreachable(err)) {
    code = "KAFKA_UNREACHABLE";
    hint = `; is a broker running at ${servers.join(", ")}?`;
  }
  return new RiffleError(code, `${what}: ${describeError(err)}${hint}`, { cause: err });
}
