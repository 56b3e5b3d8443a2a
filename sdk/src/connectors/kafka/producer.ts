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
        await atCoordinator(this.cluster, transactionalId, (coordinator) =>
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
    // One produce request per leader; partitions whose leader moved are sent again, alone, once the
    // metadata is refreshed (their sequence numbers unchanged: the broker drops a duplicate).
    let remaining = [...byPartition];
    for (let attempt = 1; ; attempt++) {
      const failed = await this.produceByLeader(remaining, producerId, producerEpoch, transactionalId);
      if (failed.entries.length === 0) return;
      const type = kafkaErrorType(failed.error);
      if (type === undefined || !LEADER_RETRIABLE.has(type) || attempt >= LEADER_ATTEMPTS) throw failed.error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** (attempt - 1), 1000)));
      await this.cluster.refreshMetadata();
      remaining = failed.entries;
    }
  }

  /** Produces each partition's records to its leader; returns the partitions of the requests that failed, and the first error. */
  private async produceByLeader(
    entries: Array<[string, { topic: string; partition: number; records: OutgoingRecord[] }]>,
    producerId: number,
    producerEpoch: number,
    transactionalId: string | undefined,
  ): Promise<{ entries: typeof entries; error: unknown }> {
    const byLeader = new Map<number, typeof entries>();
    const failed: typeof entries = [];
    let error: unknown;
    for (const entry of entries) {
      const { topic, partition } = entry[1];
      const leader = this.cluster.findTopicPartitionMetadata(topic).find((p) => p.partitionId === partition)?.leader;
      if (leader === undefined || leader === null || leader < 0) {
        failed.push(entry);
        error ??= new RiffleError("KAFKA_ERROR", `partition ${partition} of topic ${topic} has no leader`, {
          cause: { type: "LEADER_NOT_AVAILABLE" },
        });
        continue;
      }
      let list = byLeader.get(leader);
      if (!list) byLeader.set(leader, (list = []));
      list.push(entry);
    }
    await Promise.all(
      [...byLeader].map(async ([nodeId, list]) => {
        try {
          const broker = await this.cluster.findBroker({ nodeId });
          const topicData = new Map<
            string,
            Array<{
              partition: number;
              firstSequence: number;
              messages: Array<{ key: Buffer | null; value: Buffer | null; headers?: Record<string, Buffer>; timestamp: number }>;
            }>
          >();
          for (const [tp, e] of list) {
            let parts = topicData.get(e.topic);
            if (!parts) topicData.set(e.topic, (parts = []));
            parts.push({
              partition: e.partition,
              firstSequence: this.sequences.get(tp) ?? 0,
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
          for (const [tp, e] of list) this.sequences.set(tp, (this.sequences.get(tp) ?? 0) + e.records.length);
        } catch (err) {
          failed.push(...list);
          error ??= err;
        }
      }),
    );
    return { entries: failed, error };
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
    return await atCoordinator(cluster, transactionalId, (coordinator) =>
      coordinator.initProducerId({ transactionalId, transactionTimeout: transactionTimeoutMs }),
    );
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
  await atCoordinator(cluster, txn.transactionalId, (coordinator) =>
    coordinator.endTxn({ transactionalId: txn.transactionalId, producerId: txn.producerId, producerEpoch: txn.producerEpoch, transactionResult: commit }),
  );
}

/**
 * Answers of a transaction coordinator after which the request is sent again, to the coordinator
 * found anew (kafkajs's type names): it is completing the previous transaction
 * (CONCURRENT_TRANSACTIONS), loading its state (COORDINATOR_LOAD_IN_PROGRESS), not available, or no
 * longer the coordinator of this id (NOT_COORDINATOR). Kafka's clients retry these too.
 */
const COORDINATOR_RETRIABLE = new Set(["CONCURRENT_TRANSACTIONS", "GROUP_LOAD_IN_PROGRESS", "GROUP_COORDINATOR_NOT_AVAILABLE", "NOT_COORDINATOR_FOR_GROUP"]);
const COORDINATOR_ATTEMPTS = 50;

/** Answers of a partition's leader after which the records are sent again once the metadata is refreshed: the leader moved or is being elected. */
const LEADER_RETRIABLE = new Set(["NOT_LEADER_FOR_PARTITION", "LEADER_NOT_AVAILABLE"]);
const LEADER_ATTEMPTS = 10;

/** Sends `request` to the transaction coordinator of `transactionalId`, with back-off (20 ms doubling to 500 ms) while it answers a retriable error. */
export async function atCoordinator<R>(
  cluster: Pick<KafkaCluster, "findGroupCoordinator">,
  transactionalId: string,
  request: (coordinator: Awaited<ReturnType<KafkaCluster["findGroupCoordinator"]>>) => Promise<R>,
): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    try {
      const coordinator = await cluster.findGroupCoordinator({ groupId: transactionalId, coordinatorType: 1 });
      return await request(coordinator);
    } catch (err) {
      const type = kafkaErrorType(err);
      if (type === undefined || !COORDINATOR_RETRIABLE.has(type) || attempt >= COORDINATOR_ATTEMPTS) throw err;
      await new Promise((resolve) => setTimeout(resolve, Math.min(20 * 2 ** (attempt - 1), 500)));
    }
  }
}
