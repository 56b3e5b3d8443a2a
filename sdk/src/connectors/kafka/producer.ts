import { RiffleError } from "@riffle/shared";
import { Partitioners } from "kafkajs";
import { type KafkaCluster, kafkaError, kafkaErrorType } from "./client.js";

/** A record ready to send: topic, bytes, and (when the user's partitioner chose) its partition. */
export interface OutgoingRecord {
  topic: string;
  partition?: number;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer>;
  timestamp: number;
  /** The sink's partitioner, given the topic's partition count. */
  choosePartition?: (partitions: number) => number;
}

/** Who produces: a transaction (exactly once), or an idempotent producer id (at least once). */
export interface ProducerIdentity {
  producerId: number;
  producerEpoch: number;
  /** Set for a transactional producer. */
  transactionalId?: string;
}

/** A transaction staged at a checkpoint: what a commit needs, also after a restore (Flink's KafkaCommittable). */
export interface KafkaTransaction {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
}

/**
 * Sends records through kafkajs's protocol layer with a producer id and epoch of its own: the records
 * of each partition carry consecutive sequence numbers (the broker drops duplicates of a retried send
 * and fences a zombie by its older epoch), and a transactional producer adds each partition to its
 * transaction before the first record. One `send` at a time (the writer chains them), so sequences
 * stay in order.
 */
export class ProtocolProducer {
  private readonly sequences = new Map<string, number>();
  private readonly inTransaction = new Set<string>();
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private readonly knownTopics = new Set<string>();

  constructor(
    private readonly cluster: KafkaCluster,
    readonly identity: ProducerIdentity,
    private readonly servers: readonly string[],
  ) {}

  /** A transactional producer for `transactionalId`: a new epoch, which fences older producers and aborts their open transaction. */
  static async initTransactional(
    cluster: KafkaCluster,
    transactionalId: string,
    transactionTimeoutMs: number,
    servers: readonly string[],
  ): Promise<ProtocolProducer> {
    const { producerId, producerEpoch } = await initProducerId(cluster, transactionalId, transactionTimeoutMs, servers);
    return new ProtocolProducer(cluster, { producerId, producerEpoch, transactionalId }, servers);
  }

  async send(records: readonly OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    const topics = [...new Set(records.map((r) => r.topic))];
    const fresh = topics.filter((t) => !this.knownTopics.has(t));
    // One topic at a time, the first time each is written: kafkajs's metadata refresh refuses an
    // unknown topic without naming it.
    for (const t of fresh) {
      const missing = () =>
        new RiffleError("KAFKA_TOPIC_NOT_FOUND", `the Kafka sink writes topic ${t}, which does not exist on ${this.servers.join(", ")}; create it first`);
      try {
        await this.cluster.addMultipleTargetTopics([t]);
      } catch (err) {
        if (kafkaErrorType(err) === "UNKNOWN_TOPIC_OR_PARTITION") throw missing();
        throw err;
      }
      if (this.cluster.findTopicPartitionMetadata(t).length === 0) throw missing();
      this.knownTopics.add(t);
    }
    // Records by partition, in order.
    const byPartition = new Map<string, { topic: string; partition: number; records: OutgoingRecord[] }>();
    for (const r of records) {
      const metadata = this.cluster.findTopicPartitionMetadata(r.topic);
      const partition =
        r.partition ??
        r.choosePartition?.(metadata.length) ??
        this.partitioner({
          topic: r.topic,
          partitionMetadata: metadata as never,
          message: { key: r.key, value: r.value },
        });
      if (!metadata.some((p) => p.partitionId === partition)) {
        throw new RiffleError(
          "SINK_WRITE_FAILED",
          `the Kafka sink chose partition ${partition} of topic ${r.topic}, which has partitions 0 to ${metadata.length - 1}`,
        );
      }
      const tp = `${r.topic}\u0000${partition}`;
      let entry = byPartition.get(tp);
      if (!entry) byPartition.set(tp, (entry = { topic: r.topic, partition, records: [] }));
      entry.records.push(r);
    }
    const { transactionalId, producerId, producerEpoch } = this.identity;
    if (transactionalId !== undefined) {
      const added = [...byPartition.keys()].filter((tp) => !this.inTransaction.has(tp));
      if (added.length > 0) {
        const topics = new Map<string, number[]>();
        for (const tp of added) {
          const { topic, partition } = byPartition.get(tp)!;
          let list = topics.get(topic);
          if (!list) topics.set(topic, (list = []));
          list.push(partition);
        }
        const coordinator = await this.cluster.findGroupCoordinator({ groupId: transactionalId, coordinatorType: 1 });
        await retryConcurrent(() =>
          coordinator.addPartitionsToTxn({
            transactionalId,
            producerId,
            producerEpoch,
            topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
          }),
        );
        for (const tp of added) this.inTransaction.add(tp);
      }
    }
    // One produce request per leader.
    const byLeader = new Map<number, Array<{ tp: string; topic: string; partition: number; records: OutgoingRecord[] }>>();
    for (const [tp, entry] of byPartition) {
      const leader = this.cluster.findTopicPartitionMetadata(entry.topic).find((p) => p.partitionId === entry.partition)?.leader;
      if (leader === undefined || leader === null) throw new RiffleError("KAFKA_ERROR", `partition ${entry.partition} of topic ${entry.topic} has no leader`);
      let list = byLeader.get(leader);
      if (!list) byLeader.set(leader, (list = []));
      list.push({ tp, ...entry });
    }
    await Promise.all(
      [...byLeader].map(async ([nodeId, entries]) => {
        const broker = await this.cluster.findBroker({ nodeId });
        const topicData = new Map<
          string,
          Array<{
            partition: number;
            firstSequence: number;
            messages: Array<{ key: Buffer | null; value: Buffer | null; headers?: Record<string, Buffer>; timestamp: number }>;
          }>
        >();
        for (const e of entries) {
          let list = topicData.get(e.topic);
          if (!list) topicData.set(e.topic, (list = []));
          list.push({
            partition: e.partition,
            firstSequence: this.sequences.get(e.tp) ?? 0,
            messages: e.records.map((r) => ({ key: r.key, value: r.value, timestamp: r.timestamp, ...(r.headers ? { headers: r.headers } : {}) })),
          });
        }
        await broker.produce({
          ...(transactionalId !== undefined ? { transactionalId } : {}),
          producerId,
          producerEpoch,
          acks: -1,
          timeout: 30_000,
          topicData: [...topicData].map(([topic, partitions]) => ({ topic, partitions })),
        });
        for (const e of entries) this.sequences.set(e.tp, (this.sequences.get(e.tp) ?? 0) + e.records.length);
      }),
    );
  }

  /** Whether the transaction has any partition (an empty one needs no EndTxn). */
  get hasData(): boolean {
    return this.inTransaction.size > 0;
  }
}

/** InitProducerId for a transactional id at its coordinator, retried while the coordinator finishes an earlier transaction. */
export async function initProducerId(
  cluster: KafkaCluster,
  transactionalId: string,
  transactionTimeoutMs: number,
  servers: readonly string[],
): Promise<{ producerId: number; producerEpoch: number }> {
  try {
    const coordinator = await cluster.findGroupCoordinator({ groupId: transactionalId, coordinatorType: 1 });
    return await retryConcurrent(() => coordinator.initProducerId({ transactionalId, transactionTimeout: transactionTimeoutMs }));
  } catch (err) {
    if (kafkaErrorType(err) === "INVALID_TRANSACTION_TIMEOUT") {
      throw new RiffleError(
        "KAFKA_CONFIG_INVALID",
        `the Kafka sink asks for a transaction timeout of ${transactionTimeoutMs} ms, more than the broker allows (its transaction.max.timeout.ms); set transactionTimeout(ms) lower`,
        { cause: err },
      );
    }
    throw kafkaError(err, `could not start a producer for transactional id ${transactionalId}`, servers);
  }
}

/**
 * Ends a transaction through its coordinator's EndTxn with the producer id and epoch it was staged
 * with: kafkajs's public producer cannot resume a transaction of another process (Flink does it by
 * reflection), the protocol can. `commit` false aborts it.
 */
export async function endTransaction(cluster: KafkaCluster, txn: KafkaTransaction, commit: boolean): Promise<void> {
  const coordinator = await cluster.findGroupCoordinator({ groupId: txn.transactionalId, coordinatorType: 1 });
  await retryConcurrent(() =>
    coordinator.endTxn({ transactionalId: txn.transactionalId, producerId: txn.producerId, producerEpoch: txn.producerEpoch, transactionResult: commit }),
  );
}

/** Retries while the coordinator answers CONCURRENT_TRANSACTIONS (it is still completing the previous transaction). */
async function retryConcurrent<R>(fn: () => Promise<R>): Promise<R> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const type = kafkaErrorType(err);
      if ((type !== "CONCURRENT_TRANSACTIONS" && type !== "COORDINATOR_LOAD_IN_PROGRESS") || attempt >= 50) throw err;
      await new Promise((resolve) => setTimeout(resolve, Math.min(20 * 2 ** attempt, 500)));
    }
  }
}
