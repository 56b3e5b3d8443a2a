import { RiffleError, describeError } from "@riffle/shared";
import filterAbortedMessages from "kafkajs/src/consumer/filterAbortedMessages.js";
import type { PollResult, ReaderOutput, SourceReader, SourceReaderContext } from "../../api/source.js";
import { createCluster, createKafka, kafkaError, kafkaErrorType, type KafkaCluster, type RawMessage, READ_COMMITTED, READ_UNCOMMITTED } from "./client.js";
import type { KafkaRecord, KafkaSourceSettings } from "./source.js";
import type { KafkaPartitionSplit } from "./split.js";

/** Records fetched ahead of the task: fetching pauses above this many. */
const MAX_BUFFERED = 20_000;
/** How long a fetch waits at the broker for new records (ms): also how soon new splits are fetched. */
const FETCH_WAIT_MS = 200;
const FETCH_MAX_BYTES = 8 * 1024 * 1024;
const PARTITION_MAX_BYTES = 2 * 1024 * 1024;

interface SplitState {
  split: KafkaPartitionSplit;
  /** The next offset to fetch (ahead of `split.offset`, the next one to emit, by what is buffered). */
  fetchOffset: number;
  /** The partition's end as of the last fetch (records lag = highWatermark - offset). */
  highWatermark: number;
  finished: boolean;
  output: ReaderOutput<unknown> | undefined;
}

/** Records of one partition from one fetch; `next` is the offset after the fetched data (control records included). */
interface Fetched {
  state: SplitState;
  messages: RawMessage[];
  index: number;
  next: number;
}

/** Fetch errors after which the reader refreshes the metadata and fetches again (with back-off) instead of failing the job. */
const FETCH_RETRIABLE = new Set(["NOT_LEADER_FOR_PARTITION", "LEADER_NOT_AVAILABLE", "UNKNOWN_TOPIC_OR_PARTITION"]);
const FETCH_RETRIES = 10;

/**
 * Reads the partitions its enumerator assigned (Flink's KafkaSourceReader), fetching ahead in the
 * background through kafkajs's protocol layer. The offsets it checkpoints are those of the records it
 * emitted; they are committed back to the consumer group when a checkpoint completes (for monitoring
 * only: a restore reads the checkpoint, never the group). Every partition gets its own output, so
 * watermarks are per partition and an idle partition can be left out (WatermarkStrategy.withIdleness).
 */
export class KafkaSourceReader<T> implements SourceReader<T> {
  private readonly splits = new Map<string, SplitState>();
  private readonly buffer: Fetched[] = [];
  private buffered = 0;
  private noMoreSplits = false;
  private closed = false;
  private failure: RiffleError | undefined;
  private readonly cluster: KafkaCluster;
  private wakeReader: (() => void) | undefined;
  private wakeFetcher: (() => void) | undefined;
  private fetching: Promise<void> | undefined;
  private idle = false;
  /** Offsets of each checkpoint not yet completed, to commit to the group when it completes. */
  private readonly toCommit = new Map<number, Array<{ topic: string; partition: number; offset: number }>>();
  private readonly gauges = new Set<string>();

  constructor(
    private readonly ctx: SourceReaderContext,
    private readonly settings: KafkaSourceSettings,
    private readonly deserialize: (record: KafkaRecord) => T,
    restored: KafkaPartitionSplit[] | undefined,
    /** The cluster to fetch through (tests give one that answers errors no single-node broker gives); default: one on the settings' servers. */
    cluster?: KafkaCluster,
  ) {
    this.cluster =
      cluster ??
      createCluster(createKafka(settings.client), { isolationLevel: settings.isolationLevel === "read_committed" ? READ_COMMITTED : READ_UNCOMMITTED });
    if (restored) this.addSplits(restored);
    ctx.metrics.gauge("kafka_pending_records", () => this.pendingRecords(), "records in the assigned partitions not yet read (Flink's pendingRecords)");
  }

  async start(): Promise<void> {
    try {
      await this.cluster.connect();
    } catch (err) {
      throw kafkaError(err, `the Kafka source could not connect to ${this.settings.client.bootstrapServers.join(", ")}`, this.settings.client.bootstrapServers);
    }
    this.fetching = this.fetchLoop();
  }

  addSplits(splits: unknown[]): void {
    for (const raw of splits) {
      const split = { ...(raw as KafkaPartitionSplit) };
      const finished = split.stoppingOffset !== undefined && split.offset >= split.stoppingOffset;
      this.splits.set(split.splitId, { split, fetchOffset: split.offset, highWatermark: split.offset, finished, output: undefined });
      this.registerLag(split);
    }
    this.wake();
  }

  notifyNoMoreSplits(): void {
    this.noMoreSplits = true;
    this.wake();
  }

  pollNext(output: ReaderOutput<T>, max: number): PollResult {
    if (this.failure) throw this.failure;
    // Every partition gets its output when it is assigned, as in Flink: one without records holds the
    // watermark back until its idleness timeout (WatermarkStrategy.withIdleness) says it is idle.
    for (const s of this.splits.values()) if (!s.finished && !s.output) s.output = output.createOutputForSplit(s.split.splitId) as ReaderOutput<unknown>;
    let emitted = 0;
    while (emitted < max && this.buffer.length > 0) {
      const f = this.buffer[0]!;
      const s = f.state;
      s.output ??= output.createOutputForSplit(s.split.splitId) as ReaderOutput<unknown>;
      while (emitted < max && f.index < f.messages.length) {
        const m = f.messages[f.index++]!;
        this.buffered--;
        const offset = Number(m.offset);
        if (s.split.stoppingOffset !== undefined && offset >= s.split.stoppingOffset) {
          f.index = f.messages.length;
          break;
        }
        this.emit(m, offset, s, output);
        s.split.offset = offset + 1;
        emitted++;
      }
      if (f.index >= f.messages.length) {
        this.buffered -= f.messages.length - f.index;
        this.buffer.shift();
        s.split.offset = Math.max(s.split.offset, s.split.stoppingOffset !== undefined ? Math.min(f.next, s.split.stoppingOffset) : f.next);
        this.finishIfDone(s, output);
        this.wakeFetcher?.();
      }
    }
    for (const s of this.splits.values()) this.finishIfDone(s, output);
    if (this.buffer.length > 0) return "MORE_AVAILABLE";
    const active = [...this.splits.values()].some((s) => !s.finished);
    if (!active && this.noMoreSplits) return "END_OF_INPUT";
    // A reader without a partition to read holds no watermark back (more subtasks than partitions).
    // Only its main output goes idle: partitions assigned later have outputs of their own, which
    // hold the watermark as soon as they exist.
    if (!active && !this.idle) {
      this.idle = true;
      output.markIdle();
    } else if (active) this.idle = false;
    return emitted > 0 ? "MORE_AVAILABLE" : "NOTHING_AVAILABLE";
  }

  isAvailable(): Promise<void> {
    if (this.buffer.length > 0 || this.failure) return Promise.resolve();
    return new Promise((resolve) => {
      this.wakeReader = resolve;
    });
  }

  snapshotState(checkpointId: number): unknown[] {
    const open = [...this.splits.values()].filter((s) => !s.finished).map((s) => ({ ...s.split }));
    if (this.settings.groupId && this.settings.commitOffsetsOnCheckpoint) {
      this.toCommit.set(
        checkpointId,
        [...this.splits.values()].map((s) => ({ topic: s.split.topic, partition: s.split.partition, offset: s.split.offset })),
      );
    }
    return open;
  }

  /** The offsets of checkpoint n go to the consumer group, for monitoring (a failure to commit them changes nothing else). */
  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    const offsets = this.toCommit.get(checkpointId);
    for (const id of [...this.toCommit.keys()]) if (id <= checkpointId) this.toCommit.delete(id);
    const groupId = this.settings.groupId;
    if (!offsets || offsets.length === 0 || !groupId || this.closed) return;
    const byTopic = new Map<string, Array<{ partition: number; offset: string }>>();
    for (const o of offsets) {
      let list = byTopic.get(o.topic);
      if (!list) byTopic.set(o.topic, (list = []));
      list.push({ partition: o.partition, offset: String(o.offset) });
    }
    try {
      const coordinator = await this.cluster.findGroupCoordinator({ groupId, coordinatorType: 0 });
      await coordinator.offsetCommit({
        groupId,
        groupGenerationId: -1,
        memberId: "",
        topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
      });
    } catch {
      // For monitoring only: the next completed checkpoint commits newer offsets.
    }
  }

  notifyCheckpointAborted(checkpointId: number): void {
    this.toCommit.delete(checkpointId);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake();
    await this.fetching?.catch(() => {});
    await this.cluster.disconnect().catch(() => {});
  }

  private emit(m: RawMessage, offset: number, s: SplitState, main: ReaderOutput<T>): void {
    const { topic, partition } = s.split;
    const timestamp = Number(m.timestamp);
    const record: KafkaRecord = { topic, partition, offset, timestamp, key: m.key, value: m.value, headers: headersOf(m.headers) };
    let value: T;
    try {
      value = this.deserialize(record);
    } catch (err) {
      const tag = this.settings.invalidRecords;
      if (tag) {
        main.output(
          tag,
          { topic, partition, offset, timestamp, key: m.key?.toString("utf8") ?? null, value: m.value?.toString("utf8") ?? null, error: describeError(err) },
          timestamp,
        );
        return;
      }
      throw new RiffleError(
        "KAFKA_DESERIALIZATION_FAILED",
        `the record at offset ${offset} of partition ${partition} of topic ${topic} cannot be deserialized: ${describeError(err)}; fix the producer, or build the source with skipInvalidRecords(tag) to send such records to a side output`,
        { cause: err },
      );
    }
    s.output!.collect(value, timestamp);
  }

  private finishIfDone(s: SplitState, output: ReaderOutput<T>): void {
    if (s.finished || s.split.stoppingOffset === undefined || s.split.offset < s.split.stoppingOffset) {
      if (s.finished && s.output) {
        output.releaseOutputForSplit(s.split.splitId);
        s.output = undefined;
      }
      return;
    }
    s.finished = true;
    if (s.output) output.releaseOutputForSplit(s.split.splitId);
    s.output = undefined;
  }

  /** Records of the assigned partitions not read yet, as of the last fetch (Flink's pendingRecords; the autoscaler reads it). */
  pendingRecords(): number {
    let n = 0;
    for (const s of this.splits.values()) if (!s.finished) n += Math.max(0, s.highWatermark - s.split.offset);
    return n;
  }

  /** A gauge of the records lag of one partition (Flink's records-lag per partition). */
  private registerLag(split: KafkaPartitionSplit): void {
    // Topic and partition as labels: in a name, topics "a.b" and "a_b" would be one gauge.
    if (this.gauges.has(split.splitId)) return;
    this.gauges.add(split.splitId);
    this.ctx.metrics.gauge(
      "kafka_records_lag",
      () => {
        const s = this.splits.get(split.splitId);
        return s && !s.finished ? Math.max(0, s.highWatermark - s.split.offset) : 0;
      },
      "records of a partition assigned to this reader not yet read (Flink's records-lag)",
      { topic: split.topic, partition: String(split.partition) },
    );
  }

  private wake(): void {
    const r = this.wakeReader;
    this.wakeReader = undefined;
    r?.();
    this.wakeFetcher?.();
  }

  /** Fetches the unfinished splits from their leaders, while the buffer has room, until closed. */
  private async fetchLoop(): Promise<void> {
    const topicsKnown = new Set<string>();
    let retries = 0;
    while (!this.closed) {
      const active = [...this.splits.values()].filter((s) => !s.finished && (s.split.stoppingOffset === undefined || s.fetchOffset < s.split.stoppingOffset));
      if (active.length === 0 || this.buffered >= MAX_BUFFERED) {
        await new Promise<void>((resolve) => {
          this.wakeFetcher = resolve;
        });
        this.wakeFetcher = undefined;
        continue;
      }
      try {
        const topics = [...new Set(active.map((s) => s.split.topic))];
        if (topics.some((t) => !topicsKnown.has(t))) {
          await this.cluster.addMultipleTargetTopics(topics);
          for (const t of topics) topicsKnown.add(t);
        }
        await this.fetchOnce(active);
        retries = 0;
      } catch (err) {
        if (this.closed) return;
        // A leader that moved or is being elected: fetched again from the leader the refreshed metadata names.
        const type = kafkaErrorType(err);
        if (type !== undefined && FETCH_RETRIABLE.has(type) && retries < FETCH_RETRIES) {
          retries++;
          await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** (retries - 1), 1000)));
          await this.cluster.refreshMetadata().catch(() => {});
          continue;
        }
        this.failure = kafkaError(err, "the Kafka source could not fetch", this.settings.client.bootstrapServers);
        this.wake();
        return;
      }
    }
  }

  private async fetchOnce(active: SplitState[]): Promise<void> {
    const byLeader = new Map<number, SplitState[]>();
    for (const s of active) {
      const leader = this.cluster.findTopicPartitionMetadata(s.split.topic).find((p) => p.partitionId === s.split.partition)?.leader;
      if (leader === undefined || leader === null) {
        await this.cluster.refreshMetadata();
        return;
      }
      let list = byLeader.get(leader);
      if (!list) byLeader.set(leader, (list = []));
      list.push(s);
    }
    await Promise.all(
      [...byLeader].map(async ([nodeId, states]) => {
        const broker = await this.cluster.findBroker({ nodeId });
        const byTopic = new Map<string, SplitState[]>();
        for (const s of states) {
          let list = byTopic.get(s.split.topic);
          if (!list) byTopic.set(s.split.topic, (list = []));
          list.push(s);
        }
        const response = await broker.fetch({
          replicaId: -1,
          isolationLevel: this.settings.isolationLevel === "read_committed" ? READ_COMMITTED : READ_UNCOMMITTED,
          maxWaitTime: FETCH_WAIT_MS,
          minBytes: 1,
          maxBytes: FETCH_MAX_BYTES,
          topics: [...byTopic].map(([topic, list]) => ({
            topic,
            partitions: list.map((s) => ({ partition: s.split.partition, fetchOffset: String(s.fetchOffset), maxBytes: PARTITION_MAX_BYTES })),
          })),
        });
        for (const t of response.responses) {
          for (const p of t.partitions) {
            const s = states.find((x) => x.split.topic === t.topicName && x.split.partition === p.partition);
            if (!s || this.closed) continue;
            this.take(s, p.messages, p.abortedTransactions, Number(p.highWatermark), Number(p.lastStableOffset));
          }
        }
      }),
    );
  }

  /** One partition's fetched data: aborted and control records dropped, the rest buffered for pollNext. */
  private take(s: SplitState, raw: RawMessage[], aborted: Array<{ producerId: string; firstOffset: string }>, highWatermark: number, lastStable: number): void {
    s.highWatermark = this.settings.isolationLevel === "read_committed" && lastStable >= 0 ? lastStable : highWatermark;
    const within = raw.filter((m) => Number(m.offset) >= s.fetchOffset);
    if (within.length === 0) return;
    const next = Number(within[within.length - 1]!.offset) + 1;
    const messages = this.settings.isolationLevel === "read_committed" ? dropAborted(within, aborted) : within.filter((m) => !m.isControlRecord);
    s.fetchOffset = next;
    this.buffer.push({ state: s, messages, index: 0, next });
    this.buffered += messages.length;
    const r = this.wakeReader;
    this.wakeReader = undefined;
    r?.();
  }
}

/** Records of aborted transactions and control records removed, as kafkajs's own consumer does. */
function dropAborted(messages: RawMessage[], aborted: Array<{ producerId: string; firstOffset: string }>): RawMessage[] {
  return filterAbortedMessages({ messages, abortedTransactions: aborted }).filter((m) => !m.isControlRecord);
}

function headersOf(headers: Record<string, Buffer | Buffer[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.map((b) => b.toString("utf8")).join(",") : v.toString("utf8");
  }
  return out;
}
