import { RiffleError, describeError } from "@riffle/shared";
import type { RuntimeContext } from "../../api/functions.js";
import type { RestoredCheckpoint, Sink, SinkJobSettings, SinkWriter, TwoPhaseCommitWriter } from "../../api/sink.js";
import { createCluster, createKafka, DEFAULT_CLIENT_SETTINGS, type KafkaClientSettings, type KafkaCluster, kafkaError, kafkaErrorType } from "./client.js";
import { endTransaction, initProducerId, type KafkaTransaction, type OutgoingRecord, ProtocolProducer } from "./producer.js";

export type DeliveryGuarantee = "none" | "at-least-once" | "exactly-once";

/** What a record becomes in Kafka; absent fields take the sink's defaults (its topic, no key, now). */
export interface KafkaProducerRecord {
  topic?: string;
  partition?: number;
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, string | Buffer>;
  timestamp?: number;
}

export interface KafkaSinkSettings {
  client: KafkaClientSettings;
  /** The topic of records whose serializer names none. */
  topic?: string;
  guarantee: DeliveryGuarantee;
  /** Exactly-once: transactional ids are `<prefix>-<subtask>-<n>`; unique per job. */
  transactionalIdPrefix?: string;
  /** Exactly-once: how long the broker keeps a transaction open before it aborts it (ms). */
  transactionTimeoutMs: number;
}

/** Records gathered before a produce request goes out (one is in flight at a time; the next gathers meanwhile). */
const BATCH_RECORDS = 2000;
/** Batches waiting behind the one in flight before the writer says it has no room (back pressure). */
const MAX_QUEUED_BATCHES = 4;

/**
 * Writes to Kafka (Flink's KafkaSink), with one of three delivery guarantees:
 * - `none`: records are sent as they come; nothing waits for the broker at a checkpoint.
 * - `at-least-once`: at every checkpoint barrier the writer waits until the broker acknowledged
 *   everything sent so far (acks=all), so a restore replays only what may be duplicated.
 * - `exactly-once`: each subtask writes each checkpoint's records in a Kafka transaction of its own
 *   (`<prefix>-<subtask>-<n>`), staged at the barrier and committed when the checkpoint completes;
 *   after a failure the transactions of the restored checkpoint are committed again and every
 *   transaction this prefix can have left open since is aborted (decision record 0012). Consumers
 *   read the output with isolation.level=read_committed.
 */
export class KafkaSink<T> implements Sink<T> {
  constructor(
    readonly settings: KafkaSinkSettings,
    private readonly serialize: (value: T) => OutgoingRecord,
  ) {}

  static builder<T>(): KafkaSinkBuilder<T> {
    return new KafkaSinkBuilder<T>();
  }

  /**
   * Exactly-once: a transaction stays open from one checkpoint until the next completes, and after a
   * failure until the failure was noticed, the job restarted and committed it; the broker must not
   * abort it by its timeout meanwhile. The restart delay is the job's strategy's longest, or the
   * cluster's default for checkpointed jobs (exponential back-off) when the job sets none.
   */
  validateJob(job: SinkJobSettings): void {
    if (this.settings.guarantee !== "exactly-once" || job.checkpointIntervalMs === undefined) return;
    const r = job.restartStrategy;
    const restartMs = !r
      ? job.defaultRestartDelayMs
      : r.type === "fixed-delay" || r.type === "failure-rate"
        ? r.delayMs
        : r.type === "exponential-backoff"
          ? r.maxDelayMs
          : 0;
    const boundMs = job.checkpointIntervalMs + job.failureDetectionMs + restartMs;
    if (this.settings.transactionTimeoutMs < boundMs) {
      throw new RiffleError(
        "KAFKA_CONFIG_INVALID",
        `KafkaSink: its transaction timeout (${this.settings.transactionTimeoutMs} ms) is shorter than the checkpoint interval (${job.checkpointIntervalMs} ms) plus the time to notice a lost TaskManager (${job.failureDetectionMs} ms) plus the ${r ? "job's" : "cluster's default"} longest restart delay (${restartMs} ms), ${boundMs} ms: the broker could abort a transaction before its checkpoint commits it; set transactionTimeout(ms) higher, or checkpoint more often`,
      );
    }
  }

  createWriter(ctx: RuntimeContext): SinkWriter<T> {
    const cluster = createCluster(createKafka(this.settings.client));
    if (this.settings.guarantee === "exactly-once") return new KafkaTransactionalWriter<T>(ctx, this.settings, cluster, this.serialize);
    return new KafkaWriter<T>(this.settings, cluster, this.serialize, ctx);
  }
}

/** Batches records and sends them one produce request at a time; `produce` says through which producer. */
abstract class BatchingWriter<T> {
  private buffer: OutgoingRecord[] = [];
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  protected failure: RiffleError | undefined;
  private roomWaiters: (() => void)[] = [];
  protected connected: Promise<void> | undefined;

  constructor(
    protected readonly settings: KafkaSinkSettings,
    protected readonly cluster: KafkaCluster,
    private readonly serialize: (value: T) => OutgoingRecord,
    protected readonly ctx: RuntimeContext,
  ) {}

  protected abstract produce(records: OutgoingRecord[]): Promise<void>;

  protected connect(): Promise<void> {
    this.connected ??= this.cluster.connect().catch((err: unknown) => {
      this.connected = undefined;
      throw kafkaError(err, `the Kafka sink could not connect to ${this.settings.client.bootstrapServers.join(", ")}`, this.settings.client.bootstrapServers);
    });
    return this.connected;
  }

  write(value: T): void {
    if (this.failure) throw this.failure;
    this.buffer.push(this.serialize(value));
    // Nothing in flight: send now (a slow stream is not held back); else gather until the batch is full.
    if (this.queued === 0 || this.buffer.length >= BATCH_RECORDS) this.dispatch();
  }

  isAvailable(): boolean {
    return this.queued < MAX_QUEUED_BATCHES || this.failure !== undefined;
  }

  available(): Promise<void> {
    if (this.isAvailable()) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Sends what is buffered and waits until the broker acknowledged everything sent so far. */
  protected async drain(): Promise<void> {
    this.dispatch();
    await this.chain;
    if (this.failure) throw this.failure;
  }

  protected dispatch(): void {
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    this.queued++;
    this.chain = this.chain
      .then(async () => {
        if (this.failure) return;
        await this.connect();
        await this.produce(batch);
      })
      .catch((err: unknown) => {
        this.failure ??= kafkaError(err, "the Kafka sink could not write", this.settings.client.bootstrapServers);
      })
      .finally(() => {
        this.queued--;
        // What was written while this request was in flight goes out now, not with the next record.
        if (this.queued === 0 && !this.failure) this.dispatch();
        for (const wake of this.roomWaiters.splice(0)) wake();
      });
  }

  /** Cancel, finish or failure: what was sent is awaited (or given up), then `beforeDisconnect`. */
  async close(): Promise<void> {
    await this.chain.catch(() => {});
    await this.beforeDisconnect();
    await this.cluster.disconnect().catch(() => {});
  }

  protected async beforeDisconnect(): Promise<void> {}
}

/** `none` and `at-least-once`: an idempotent producer (the broker drops duplicates of a retried request). */
class KafkaWriter<T> extends BatchingWriter<T> implements SinkWriter<T> {
  private producer: Promise<ProtocolProducer> | undefined;

  protected async produce(records: OutgoingRecord[]): Promise<void> {
    this.producer ??= (async () => {
      // An idempotent producer id (no transactional id): any broker hands one out.
      await this.cluster.refreshMetadata();
      const broker = await this.cluster.findControllerBroker();
      const { producerId, producerEpoch } = await broker.initProducerId({ transactionalId: null, transactionTimeout: 60_000 });
      return new ProtocolProducer(this.cluster, { producerId, producerEpoch }, this.settings.client.bootstrapServers);
    })();
    this.producer.catch(() => {
      this.producer = undefined;
    });
    const producer = await this.producer;
    await producer.send(records);
  }

  /** At a barrier: at-least-once waits for the broker's acknowledgements; none only sends. At end of input both wait. */
  async flush(endOfInput: boolean): Promise<void> {
    if (this.settings.guarantee === "none" && !endOfInput) {
      this.dispatch();
      return;
    }
    await this.drain();
  }
}

/**
 * `exactly-once`: a transaction per checkpoint. The transaction being written is named
 * `<prefix>-<subtask>-<n>` where n is one more than the checkpoint that staged the one before (the
 * job's next checkpoint id after a restore), so names never repeat within a job and the names an
 * attempt can have left open are known: see abortLeftovers.
 */
class KafkaTransactionalWriter<T> extends BatchingWriter<T> implements TwoPhaseCommitWriter<T, KafkaTransaction> {
  private current: Promise<ProtocolProducer> | undefined;
  private nextName = 1;
  /** Transactions this writer staged (not recovered from a checkpoint). */
  private readonly own = new Set<string>();
  private readonly prefix: string;

  constructor(ctx: RuntimeContext, settings: KafkaSinkSettings, cluster: KafkaCluster, serialize: (value: T) => OutgoingRecord) {
    super(settings, cluster, serialize, ctx);
    this.prefix = settings.transactionalIdPrefix!;
  }

  private transactionalId(subtask: number, n: number): string {
    return `${this.prefix}-${subtask}-${n}`;
  }

  protected async produce(records: OutgoingRecord[]): Promise<void> {
    this.current ??= ProtocolProducer.initTransactional(
      this.cluster,
      this.transactionalId(this.ctx.subtaskIndex, this.nextName),
      this.settings.transactionTimeoutMs,
      this.settings.client.bootstrapServers,
    );
    const producer = await this.current;
    await producer.send(records);
  }

  async flush(_endOfInput: boolean): Promise<void> {
    await this.drain();
  }

  /** After flush: the transaction written since the last barrier, staged for checkpoint n (its records are all acknowledged). */
  async preCommit(checkpointId: number): Promise<KafkaTransaction | undefined> {
    await this.drain();
    const current = this.current;
    this.current = undefined;
    const name = this.transactionalId(this.ctx.subtaskIndex, this.nextName);
    this.nextName = checkpointId + 1;
    if (!current) {
      // Nothing written: the name is used all the same (a new epoch, no transaction), so the names a
      // job used have no holes and a later job's probe (abortLingering) does not stop short of them.
      await this.connect();
      await initProducerId(this.cluster, name, this.settings.transactionTimeoutMs, this.settings.client.bootstrapServers);
      return undefined;
    }
    const producer = await current;
    if (!producer.hasData) return undefined;
    const { transactionalId, producerId, producerEpoch } = producer.identity;
    this.own.add(transactionalId!);
    return { transactionalId: transactionalId!, producerId, producerEpoch };
  }

  /**
   * Commits a staged transaction (EndTxn with its producer id and epoch). A transaction staged by an
   * earlier attempt may have been committed already: the broker then answers success for the same
   * epoch, or says its state no longer allows it (committed long ago, or aborted by its timeout):
   * that is reported, and the job goes on (Flink's KafkaCommitter does the same).
   */
  async commit(txn: KafkaTransaction): Promise<void> {
    await this.connect();
    try {
      await endTransaction(this.cluster, txn, true);
      this.own.delete(txn.transactionalId);
    } catch (err) {
      const type = kafkaErrorType(err);
      const recovered = !this.own.has(txn.transactionalId);
      if (recovered && (type === "INVALID_TXN_STATE" || type === "PRODUCER_FENCED" || type === "INVALID_PRODUCER_EPOCH")) {
        this.ctx.log.warn(
          { transactionalId: txn.transactionalId, producerId: txn.producerId, producerEpoch: txn.producerEpoch, error: type },
          `the Kafka sink could not commit transaction ${txn.transactionalId} of a restored checkpoint again (${type}): it was committed before, or the broker aborted it after transaction.timeout.ms`,
        );
        return;
      }
      throw kafkaError(err, `the Kafka sink could not commit transaction ${txn.transactionalId}`, this.settings.client.bootstrapServers);
    }
  }

  /**
   * Cancel, finish or failure: aborts the transaction being written (Flink's KafkaWriter does so in
   * close()), so read_committed readers of its partitions do not stall until the broker's timeout.
   * Only that one: a staged transaction may belong to a checkpoint that completed and whose
   * notification has not come yet; the next attempt commits it from the checkpoint (decision record 0012).
   */
  protected override async beforeDisconnect(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    // A fenced producer's transaction was aborted by the newer epoch that fenced it.
    if (!current || this.failure?.code === "KAFKA_PRODUCER_FENCED") return;
    try {
      const producer = await current;
      if (!producer.hasData) return;
      const { transactionalId, producerId, producerEpoch } = producer.identity;
      await endTransaction(this.cluster, { transactionalId: transactionalId!, producerId, producerEpoch }, false);
    } catch (err) {
      // The next start aborts it (abortLeftovers, abortLingering), or the broker after its timeout.
      this.ctx.log.warn(
        { error: describeError(err) },
        "the Kafka sink could not abort its open transaction on close; the next start of the job aborts it, else the broker after transaction.timeout.ms",
      );
    }
  }

  /**
   * A fresh start (nothing restored, first attempt): aborts what earlier jobs with this prefix left
   * open, as Flink's KafkaSink probes its prefix. For each subtask id s this subtask answers for (s mod
   * parallelism = this subtask: an earlier job may have run at a higher parallelism) it bumps the
   * epoch of `<prefix>-<s>-1`, `-2`, ... until a name answers epoch 0 (never used before: a job uses
   * its names without holes, see preCommit), and stops at the first s whose first name was never used.
   * A name skipped because a checkpoint never reached the sink ends the probe early, as in Flink.
   */
  async abortLingering(): Promise<void> {
    await this.connect();
    const servers = this.settings.client.bootstrapServers;
    for (let s = this.ctx.subtaskIndex; ; s += this.ctx.parallelism) {
      let n = 1;
      while ((await initProducerId(this.cluster, this.transactionalId(s, n), this.settings.transactionTimeoutMs, servers)).producerEpoch !== 0) n++;
      if (n === 1) return;
    }
  }

  /**
   * Aborts what earlier attempts left open and no checkpoint or savepoint will commit: every
   * transactional id `<prefix>-<s>-<n>` this subtask answers for (its own s, and after a rescale down
   * those of subtasks that are gone: s mod parallelism = this subtask) with n after the newest
   * checkpoint or savepoint that may still be restored and up to the job's next checkpoint id. A new
   * producer epoch for an id aborts its open transaction (and fences a zombie still writing it).
   * Transactions staged up to `retainedUpTo` stay: a savepoint may still commit them (decision record 0007).
   */
  async abortLeftovers(_staged: readonly KafkaTransaction[], restored: RestoredCheckpoint): Promise<void> {
    const parallelism = this.ctx.parallelism;
    const previous = restored.previousParallelism ?? parallelism;
    const from = restored.retainedUpTo + 1;
    const to = restored.nextCheckpointId ?? restored.checkpointId + 1;
    this.nextName = Math.max(this.nextName, to);
    if (restored.retainedUpTo >= Number.MAX_SAFE_INTEGER) return;
    await this.connect();
    const ids: string[] = [];
    for (let s = this.ctx.subtaskIndex; s < Math.max(previous, parallelism); s += parallelism) {
      for (let n = from; n <= to; n++) ids.push(this.transactionalId(s, n));
    }
    const servers = this.settings.client.bootstrapServers;
    for (let i = 0; i < ids.length; i += 16) {
      await Promise.all(ids.slice(i, i + 16).map((id) => initProducerId(this.cluster, id, this.settings.transactionTimeoutMs, servers)));
    }
  }
}

const invalid = (what: string): RiffleError => new RiffleError("KAFKA_CONFIG_INVALID", `KafkaSink: ${what}`);

/** Builds a KafkaSink: `bootstrapServers`, a topic (or a serializer that names one) and a serializer are required. */
export class KafkaSinkBuilder<T> {
  private servers: string[] = [];
  private topicName: string | undefined;
  private topicOf: ((value: T) => string) | undefined;
  private guarantee: DeliveryGuarantee = "at-least-once";
  private prefix: string | undefined;
  private timeoutMs = 900_000;
  private clientId = DEFAULT_CLIENT_SETTINGS.clientId;
  private valueFn: ((value: T) => Buffer | string | null) | undefined;
  private keyOf: ((value: T) => Buffer | string | null) | undefined;
  private recordOf: ((value: T) => KafkaProducerRecord) | undefined;
  private partitionOf: ((value: T, partitions: number) => number) | undefined;

  bootstrapServers(servers: string | string[]): this {
    this.servers = (Array.isArray(servers) ? servers : servers.split(",")).map((s) => s.trim()).filter((s) => s.length > 0);
    return this;
  }

  topic(topic: string): this {
    this.topicName = topic;
    return this;
  }

  /** The topic of each record (Flink's TopicSelector). */
  topicSelector(fn: (value: T) => string): this {
    this.topicOf = fn;
    return this;
  }

  deliveryGuarantee(guarantee: DeliveryGuarantee): this {
    this.guarantee = guarantee;
    return this;
  }

  /** Exactly-once with transactional ids `<prefix>-<subtask>-<n>`: the prefix must be unique to the job. */
  exactlyOnce(transactionalIdPrefix: string): this {
    this.guarantee = "exactly-once";
    this.prefix = transactionalIdPrefix;
    return this;
  }

  transactionalIdPrefix(prefix: string): this {
    this.prefix = prefix;
    return this;
  }

  /** Kafka's transaction.timeout.ms (default 15 minutes, the broker's usual maximum). */
  transactionTimeout(ms: number): this {
    this.timeoutMs = ms;
    return this;
  }

  client(clientId: string): this {
    this.clientId = clientId;
    return this;
  }

  /** Values as JSON. */
  json(): this {
    this.valueFn = (v) => JSON.stringify(v);
    return this;
  }

  /** Values as text (String(value)). */
  string(): this {
    this.valueFn = (v) => String(v);
    return this;
  }

  valueSerializer(fn: (value: T) => Buffer | string | null): this {
    this.valueFn = fn;
    return this;
  }

  /** A record's key (the default partitioner hashes it, as Kafka's does). */
  keySerializer(fn: (value: T) => Buffer | string | null): this {
    this.keyOf = fn;
    return this;
  }

  /** The whole record: topic, partition, key, value, headers, timestamp (Flink's KafkaRecordSerializationSchema). */
  recordSerializer(fn: (value: T) => KafkaProducerRecord): this {
    this.recordOf = fn;
    return this;
  }

  /** Chooses the partition from the value and the topic's partition count. */
  partitioner(fn: (value: T, partitions: number) => number): this {
    this.partitionOf = fn;
    return this;
  }

  build(): KafkaSink<T> {
    if (this.servers.length === 0) throw invalid("bootstrapServers(...) is required");
    for (const s of this.servers) if (!/^[^:\s]+:\d+$/.test(s)) throw invalid(`bootstrap server "${s}" is not host:port`);
    if (!this.valueFn && !this.recordOf) throw invalid("a serializer is required: json(), string(), valueSerializer(fn) or recordSerializer(fn)");
    if (!this.topicName && !this.topicOf && !this.recordOf) throw invalid("topic(...) or topicSelector(fn) is required");
    if (this.guarantee === "exactly-once" && !this.prefix) throw invalid("exactly-once needs a transactionalIdPrefix (exactlyOnce(prefix))");
    if (this.prefix !== undefined && !/^[A-Za-z0-9._-]+$/.test(this.prefix))
      throw invalid(`transactionalIdPrefix "${this.prefix}" may hold only letters, digits, ".", "_" and "-"`);
    if (!Number.isInteger(this.timeoutMs) || this.timeoutMs <= 0)
      throw invalid(`transactionTimeout must be a positive whole number of ms, got ${this.timeoutMs}`);
    const settings: KafkaSinkSettings = {
      client: { ...DEFAULT_CLIENT_SETTINGS, bootstrapServers: this.servers, clientId: this.clientId },
      ...(this.topicName ? { topic: this.topicName } : {}),
      guarantee: this.guarantee,
      ...(this.prefix ? { transactionalIdPrefix: this.prefix } : {}),
      transactionTimeoutMs: this.timeoutMs,
    };
    const { topicName, topicOf, valueFn, keyOf, recordOf, partitionOf } = this;
    const toBuffer = (b: Buffer | string | null | undefined): Buffer | null =>
      b === null || b === undefined ? null : typeof b === "string" ? Buffer.from(b) : b;
    const serialize = (value: T): OutgoingRecord => {
      let r: KafkaProducerRecord;
      try {
        r = recordOf ? recordOf(value) : { value: valueFn!(value), ...(keyOf ? { key: keyOf(value) } : {}) };
      } catch (err) {
        throw new RiffleError("SINK_WRITE_FAILED", `the Kafka sink could not serialize a record: ${describeError(err)}`, { cause: err });
      }
      const topic = r.topic ?? topicOf?.(value) ?? topicName;
      if (!topic) throw new RiffleError("SINK_WRITE_FAILED", "the Kafka sink's record serializer named no topic, and the sink has no default topic");
      const headers = r.headers ? Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, toBuffer(v)!])) : undefined;
      return {
        topic,
        key: toBuffer(r.key),
        value: toBuffer(r.value),
        timestamp: r.timestamp ?? Date.now(),
        ...(r.partition !== undefined ? { partition: r.partition } : {}),
        ...(headers ? { headers } : {}),
      };
    };
    if (!partitionOf) return new KafkaSink<T>(settings, serialize);
    // The user's partitioner needs the topic's partition count, which the producer knows.
    return new KafkaSink<T>(settings, (value) => ({ ...serialize(value), choosePartition: (n: number) => partitionOf(value, n) }));
  }
}
