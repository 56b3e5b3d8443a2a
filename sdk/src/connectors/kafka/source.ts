import { RiffleError, describeError } from "@riffle/shared";
import type { OutputTag } from "../../api/output-tag.js";
import type { Boundedness, Source, SourceReader, SourceReaderContext, SourceSplit, SplitEnumerator, SplitEnumeratorContext } from "../../api/source.js";
import { DEFAULT_CLIENT_SETTINGS, type KafkaClientSettings } from "./client.js";
import { type KafkaEnumeratorState, KafkaSourceEnumerator } from "./enumerator.js";
import { KafkaSourceReader } from "./reader.js";
import { type KafkaPartitionSplit, OffsetsInitializer, type StartingOffsets } from "./split.js";

/** A record as the source read it; a deserializer turns it into the stream's value. */
export interface KafkaRecord {
  topic: string;
  partition: number;
  offset: number;
  /** The record's timestamp (ms since the epoch): the stream's event time unless a timestamp assigner says otherwise. */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  /** Header values as UTF-8 text. */
  headers: Record<string, string>;
}

/** What goes to the side output of `skipInvalidRecords` for a record the deserializer could not read. */
export interface InvalidKafkaRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  /** What the deserializer said. */
  error: string;
}

export type KafkaDeserializer<T> = (record: KafkaRecord) => T;

/** The source's settings, as its builder resolved them. */
export interface KafkaSourceSettings {
  client: KafkaClientSettings;
  topics?: string[];
  topicPattern?: RegExp;
  groupId?: string;
  startingOffsets: StartingOffsets;
  /** Set: the source is bounded and stops at the offsets it finds at start. */
  bounded?: "latest";
  isolationLevel: "read_committed" | "read_uncommitted";
  /** 0: partitions are found once, at start. */
  partitionDiscoveryIntervalMs: number;
  commitOffsetsOnCheckpoint: boolean;
  /** Records the deserializer cannot read go here instead of failing the job. */
  invalidRecords?: OutputTag<InvalidKafkaRecord>;
}

/**
 * Reads Kafka topics (Flink's KafkaSource): a split enumerator in the JobManager finds the partitions
 * and assigns them to the subtasks' readers; offsets are kept in checkpoints (so a restore, also at
 * another parallelism, reads every record once) and committed back to the group on completed
 * checkpoints for monitoring. Build one with `KafkaSource.builder<T>()`.
 */
export class KafkaSource<T> implements Source<T> {
  readonly stateMode = "split";
  readonly boundedness: Boundedness;

  constructor(
    readonly settings: KafkaSourceSettings,
    private readonly deserializer: KafkaDeserializer<T>,
  ) {
    this.boundedness = settings.bounded ? "bounded" : "unbounded";
  }

  static builder<T>(): KafkaSourceBuilder<T> {
    return new KafkaSourceBuilder<T>();
  }

  createEnumerator(ctx: SplitEnumeratorContext<SourceSplit>, restored?: unknown): SplitEnumerator<SourceSplit, unknown> {
    return new KafkaSourceEnumerator(
      ctx as SplitEnumeratorContext<KafkaPartitionSplit>,
      this.settings,
      restored as KafkaEnumeratorState | undefined,
    ) as unknown as SplitEnumerator<SourceSplit, unknown>;
  }

  createReader(ctx: SourceReaderContext, restored?: unknown[]): SourceReader<T> {
    return new KafkaSourceReader<T>(ctx, this.settings, this.deserializer, restored as KafkaPartitionSplit[] | undefined);
  }
}

const invalid = (what: string): RiffleError => new RiffleError("KAFKA_CONFIG_INVALID", `KafkaSource: ${what}`);

/** Builds a KafkaSource; `bootstrapServers`, the topics and a deserializer are required. */
export class KafkaSourceBuilder<T> {
  private servers: string[] = [];
  private topicList: string[] | undefined;
  private pattern: RegExp | undefined;
  private group: string | undefined;
  private starting: StartingOffsets = OffsetsInitializer.earliest();
  private boundedAt: "latest" | undefined;
  private isolation: "read_committed" | "read_uncommitted" = "read_committed";
  private discoveryMs = 0;
  private commitOffsets = true;
  private invalidTag: OutputTag<InvalidKafkaRecord> | undefined;
  private clientId = DEFAULT_CLIENT_SETTINGS.clientId;
  private readFn: KafkaDeserializer<unknown> | undefined;

  /** host:port of brokers, as a list or comma-separated. */
  bootstrapServers(servers: string | string[]): this {
    this.servers = (Array.isArray(servers) ? servers : servers.split(",")).map((s) => s.trim()).filter((s) => s.length > 0);
    return this;
  }

  topics(...topics: string[]): this {
    this.topicList = topics.flat();
    return this;
  }

  /** Every topic whose name matches, now and (with partition discovery) later. */
  topicPattern(pattern: RegExp): this {
    this.pattern = pattern;
    return this;
  }

  /** The consumer group the offsets are committed to (for monitoring) and read from with `OffsetsInitializer.committedOffsets()`. */
  groupId(groupId: string): this {
    this.group = groupId;
    return this;
  }

  /** Where partitions start when the job does not restore (default: earliest). */
  startingOffsets(offsets: StartingOffsets): this {
    this.starting = offsets;
    return this;
  }

  /** A bounded source: each partition ends at the offset it had when the job started. */
  bounded(): this {
    this.boundedAt = "latest";
    return this;
  }

  /** read_committed (default): records of open or aborted transactions are not read. */
  isolationLevel(level: "read_committed" | "read_uncommitted"): this {
    this.isolation = level;
    return this;
  }

  /** Looks for new partitions (and topics of a pattern) every `ms`; 0 (default) looks once. */
  partitionDiscoveryInterval(ms: number): this {
    this.discoveryMs = ms;
    return this;
  }

  /** Whether offsets go to the group when a checkpoint completes (default true, when there is a groupId). */
  commitOffsetsOnCheckpoint(commit: boolean): this {
    this.commitOffsets = commit;
    return this;
  }

  /**
   * A record the deserializer cannot read goes to the side output `tag` (read it with
   * `stream.getSideOutput(tag)`) instead of failing the job.
   */
  skipInvalidRecords(tag: OutputTag<InvalidKafkaRecord>): this {
    this.invalidTag = tag;
    return this;
  }

  client(clientId: string): this {
    this.clientId = clientId;
    return this;
  }

  /** Values are JSON. */
  json(): this {
    this.readFn = (r) => {
      if (r.value === null) throw new Error("the record has no value");
      return JSON.parse(r.value.toString("utf8"));
    };
    return this;
  }

  /** Values are UTF-8 text. */
  string(): this {
    this.readFn = (r) => r.value?.toString("utf8") ?? "";
    return this;
  }

  /** The records as read (key, value, headers, timestamp, topic, partition, offset). */
  raw(): this {
    this.readFn = (r) => r;
    return this;
  }

  /** Any function of the record (Flink's KafkaRecordDeserializationSchema); a throw is a record that does not deserialize. */
  deserializer(fn: KafkaDeserializer<T>): this {
    this.readFn = fn;
    return this;
  }

  build(): KafkaSource<T> {
    if (this.servers.length === 0) throw invalid("bootstrapServers(...) is required");
    if (!this.topicList?.length && !this.pattern) throw invalid("topics(...) or topicPattern(...) is required");
    if (this.topicList?.length && this.pattern) throw invalid("give topics(...) or topicPattern(...), not both");
    if (!this.readFn) throw invalid("a deserializer is required: json(), string(), raw() or deserializer(fn)");
    if (!Number.isInteger(this.discoveryMs) || this.discoveryMs < 0)
      throw invalid(`partitionDiscoveryInterval must be a whole number of ms, got ${this.discoveryMs}`);
    if (this.starting.kind === "committed" && !this.group) throw invalid("committedOffsets() needs a groupId(...)");
    for (const s of this.servers) if (!/^[^:\s]+:\d+$/.test(s)) throw invalid(`bootstrap server "${s}" is not host:port`);
    const settings: KafkaSourceSettings = {
      client: { ...DEFAULT_CLIENT_SETTINGS, bootstrapServers: this.servers, clientId: this.clientId },
      ...(this.topicList ? { topics: [...this.topicList] } : {}),
      ...(this.pattern ? { topicPattern: this.pattern } : {}),
      ...(this.group ? { groupId: this.group } : {}),
      startingOffsets: this.starting,
      ...(this.boundedAt ? { bounded: this.boundedAt } : {}),
      isolationLevel: this.isolation,
      partitionDiscoveryIntervalMs: this.discoveryMs,
      commitOffsetsOnCheckpoint: this.commitOffsets,
      ...(this.invalidTag ? { invalidRecords: this.invalidTag } : {}),
    };
    const fn = this.readFn as KafkaDeserializer<T>;
    return new KafkaSource<T>(settings, (r) => {
      try {
        return fn(r);
      } catch (err) {
        throw new Error(describeError(err), { cause: err });
      }
    });
  }
}
