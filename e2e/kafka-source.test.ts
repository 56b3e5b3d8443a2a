/**
 * KafkaSource's enumerator and reader against the Kafka test broker, driven as the runtime drives
 * them (the enumerator's context as the JobManager's source coordinator gives it, the reader's
 * polls, snapshots and checkpoint notifications as a task makes them), with kafkajs as the
 * independent client that writes the input and reads the consumer group's offsets.
 */
import type { ReaderOutput, SourceReaderContext, SplitEnumerator, SplitEnumeratorContext } from "@riffle/sdk";
import { type KafkaPartitionSplit, KafkaSource, OffsetsInitializer } from "@riffle/sdk/kafka";
import { createLogger, RiffleError } from "@riffle/shared";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestKafkaBroker } from "./harness/index.js";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

let broker: TestKafkaBroker;
let kafka: Kafka;
/** The time of the first record in topic "start"; record i of a partition is i seconds later. */
const T0 = 1_700_000_000_000;

beforeAll(async () => {
  broker = await TestKafkaBroker.start();
  kafka = new Kafka({ brokers: [broker.address], clientId: "e2e", logLevel: logLevel.NOTHING });
  await createTopics([
    ["start", 2],
    ["pat-a", 1],
    ["pat-b", 2],
    ["other", 1],
  ]);
  const producer = kafka.producer();
  await producer.connect();
  for (const partition of [0, 1]) {
    const messages = Array.from({ length: 10 }, (_, i) => ({ partition, value: `${partition}:${i}`, timestamp: String(T0 + i * 1000) }));
    await producer.send({ topic: "start", acks: -1, messages });
  }
  await producer.send({ topic: "pat-a", acks: -1, messages: [{ value: "a0" }, { value: "a1" }] });
  await producer.disconnect();
}, 60_000);

afterAll(async () => {
  await broker?.stop();
});

async function createTopics(topics: Array<[string, number]>): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: topics.map(([topic, numPartitions]) => ({ topic, numPartitions })), waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

/** Polls `check` every 20 ms until it returns something other than undefined, or fails after `timeoutMs`. */
async function eventually<T>(what: string, check: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The source coordinator's side of an enumerator: readers 0 .. parallelism-1 registered, assignments and failures recorded. */
class Coordinator implements SplitEnumeratorContext<KafkaPartitionSplit> {
  readonly jobId = "j";
  readonly jobName = "kafka-source";
  readonly sourceName = "numbers";
  readonly assigned = new Map<string, { split: KafkaPartitionSplit; reader: number }>();
  readonly failures: unknown[] = [];
  readonly noMoreSplits = new Set<number>();

  constructor(private readonly parallelism: number) {}

  currentParallelism(): number {
    return this.parallelism;
  }

  registeredReaders(): number[] {
    return Array.from({ length: this.parallelism }, (_, i) => i);
  }

  assignSplits(assignment: ReadonlyMap<number, readonly KafkaPartitionSplit[]>): void {
    for (const [reader, splits] of assignment) for (const split of splits) this.assignSplit(split, reader);
  }

  assignSplit(split: KafkaPartitionSplit, reader: number): void {
    if (this.assigned.has(split.splitId)) throw new Error(`split ${split.splitId} assigned twice`);
    this.assigned.set(split.splitId, { split, reader });
  }

  signalNoMoreSplits(reader: number): void {
    this.noMoreSplits.add(reader);
  }

  sendEventToSourceReader(): void {}

  failJob(error: unknown): void {
    this.failures.push(error);
  }

  /** Split id → its starting offset (and stopping offset, for a bounded source). */
  offsets(): Record<string, number | [number, number | undefined]> {
    const out: Record<string, number | [number, number | undefined]> = {};
    for (const [id, { split }] of [...this.assigned].sort(([a], [b]) => a.localeCompare(b)))
      out[id] = split.stoppingOffset === undefined ? split.offset : [split.offset, split.stoppingOffset];
    return out;
  }
}

/** Starts the source's enumerator with `parallelism` readers and waits until its first discovery assigned `splits` splits (or it failed). */
async function enumerate(
  source: KafkaSource<unknown>,
  parallelism: number,
  splits: number,
): Promise<{ coordinator: Coordinator; enumerator: SplitEnumerator<KafkaPartitionSplit, unknown> }> {
  const coordinator = new Coordinator(parallelism);
  const enumerator = source.createEnumerator(coordinator as never) as unknown as SplitEnumerator<KafkaPartitionSplit, unknown>;
  await enumerator.start();
  for (let r = 0; r < parallelism; r++) enumerator.addReader(r);
  await eventually(`${splits} splits assigned`, () => (coordinator.assigned.size >= splits || coordinator.failures.length > 0 ? true : undefined));
  return { coordinator, enumerator };
}

const source = () => KafkaSource.builder<string>().bootstrapServers(broker.address).topics("start").groupId("start-group").string();

describe("KafkaSource against the test broker", () => {
  it("starts each partition where its starting offsets say: earliest, latest, the first record at a time, the group's offset or a fallback", async () => {
    const cases: Array<[string, ReturnType<typeof source>, Record<string, unknown>]> = [
      ["earliest", source().startingOffsets(OffsetsInitializer.earliest()), { "start-0": 0, "start-1": 0 }],
      ["latest", source().startingOffsets(OffsetsInitializer.latest()), { "start-0": 10, "start-1": 10 }],
      // The first record at or after T0 + 4.5 s is record 5 of each partition.
      ["timestamp", source().startingOffsets(OffsetsInitializer.timestamp(T0 + 4500)), { "start-0": 5, "start-1": 5 }],
      ["after the last record", source().startingOffsets(OffsetsInitializer.timestamp(T0 + 60_000)), { "start-0": 10, "start-1": 10 }],
      // The group has no offsets yet: the fallback applies to both partitions.
      ["committed, none yet", source().startingOffsets(OffsetsInitializer.committedOffsets("latest")), { "start-0": 10, "start-1": 10 }],
      ["bounded", source().bounded(), { "start-0": [0, 10], "start-1": [0, 10] }],
    ];
    for (const [name, builder, expected] of cases) {
      const { coordinator, enumerator } = await enumerate(builder.build() as KafkaSource<unknown>, 2, 2);
      await enumerator.close?.();
      expect(coordinator.failures, name).toEqual([]);
      expect(coordinator.offsets(), name).toEqual(expected);
    }
  }, 60_000);

  it("a reader reports its lag per partition and its pending records, and commits a completed checkpoint's offsets to the group; committedOffsets then starts there", async () => {
    const gauges = new Map<string, () => number>();
    const ctx: SourceReaderContext = {
      jobId: "j",
      jobName: "kafka-source",
      taskName: "numbers",
      subtaskIndex: 0,
      parallelism: 1,
      maxParallelism: 128,
      args: [],
      log: createLogger("e2e"),
      metrics: {
        counter: () => ({ inc() {} }),
        gauge: (name, read, _help, labels) => void gauges.set(labels ? `${name}{${Object.values(labels).join(",")}}` : name, read),
      },
      sendSplitRequest() {},
      sendSourceEventToCoordinator() {},
    };
    const records: string[] = [];
    const output: ReaderOutput<string> = {
      collect: (r) => void records.push(r),
      collectWithTimestamp: (r) => void records.push(r),
      emitWatermark() {},
      markIdle() {},
      markActive() {},
      createOutputForSplit: () => output,
      releaseOutputForSplit() {},
      output() {},
    };
    const reader = source().build().createReader(ctx);
    await reader.start?.();
    reader.addSplits?.([{ splitId: "start-0", topic: "start", partition: 0, offset: 0 }]);
    // Four records of partition 0 read, six to go.
    const deadline = Date.now() + 20_000;
    while (records.length < 4) {
      if (Date.now() > deadline) throw new Error(`read ${records.length} records, not 4`);
      if (reader.pollNext(output, 4 - records.length) === "NOTHING_AVAILABLE") await reader.isAvailable();
    }
    expect(records).toEqual(["0:0", "0:1", "0:2", "0:3"]);
    expect(gauges.get("kafka_records_lag{start,0}")?.()).toBe(6);
    expect(reader.pendingRecords?.()).toBe(6);
    expect(reader.snapshotState?.(1)).toEqual([{ splitId: "start-0", topic: "start", partition: 0, offset: 4 }]);

    const admin = kafka.admin();
    await admin.connect();
    try {
      const groupOffsets = async () =>
        (await admin.fetchOffsets({ groupId: "start-group", topics: ["start"] }))[0]!.partitions.find((p) => p.partition === 0)!.offset;
      // Not before the checkpoint completed: offsets in the group are for monitoring, never ahead of a checkpoint.
      expect(await groupOffsets()).toBe("-1");
      await reader.notifyCheckpointComplete?.(1);
      expect(await groupOffsets()).toBe("4");
    } finally {
      await admin.disconnect();
      await reader.close?.();
    }

    // A new job reading the group's offsets starts partition 0 there, and partition 1 (none committed) at the fallback.
    const { coordinator, enumerator } = await enumerate(
      source().startingOffsets(OffsetsInitializer.committedOffsets("earliest")).build() as KafkaSource<unknown>,
      1,
      2,
    );
    await enumerator.close?.();
    expect(coordinator.offsets()).toEqual({ "start-0": 4, "start-1": 0 });
  }, 60_000);

  it("a topic pattern takes every matching topic, and discovery adds a matching topic created later from its beginning", async () => {
    const pattern = KafkaSource.builder<string>()
      .bootstrapServers(broker.address)
      .topicPattern(/^pat-/)
      .startingOffsets(OffsetsInitializer.latest())
      .partitionDiscoveryInterval(200)
      .string()
      .build();
    const { coordinator, enumerator } = await enumerate(pattern as KafkaSource<unknown>, 2, 3);
    try {
      expect(coordinator.offsets()).toEqual({ "pat-a-0": 2, "pat-b-0": 0, "pat-b-1": 0 });
      // Its split count (for the autoscaler's alignment) is the partitions it found.
      expect(enumerator.splitCount?.()).toBe(3);
      await createTopics([["pat-c", 1]]);
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic: "pat-c", acks: -1, messages: [{ value: "c0" }, { value: "c1" }, { value: "c2" }] });
      await producer.disconnect();
      await eventually("pat-c discovered", () => coordinator.assigned.get("pat-c-0"));
      expect(coordinator.offsets()).toEqual({ "pat-a-0": 2, "pat-b-0": 0, "pat-b-1": 0, "pat-c-0": 0 });
      expect(enumerator.splitCount?.()).toBe(4);
      expect(coordinator.failures).toEqual([]);
    } finally {
      await enumerator.close?.();
    }
  }, 60_000);

  it("a topic that does not exist fails the job with KAFKA_TOPIC_NOT_FOUND, naming it and the broker", async () => {
    const missing = KafkaSource.builder<string>().bootstrapServers(broker.address).topics("start", "no-such-topic").string().build();
    const { coordinator, enumerator } = await enumerate(missing as KafkaSource<unknown>, 1, 1);
    await enumerator.close?.();
    expect(coordinator.assigned.size).toBe(0);
    expect(coordinator.failures).toHaveLength(1);
    const failure = coordinator.failures[0] as RiffleError;
    expect(failure).toBeInstanceOf(RiffleError);
    expect(failure.code).toBe("KAFKA_TOPIC_NOT_FOUND");
    expect(failure.message).toBe(`the Kafka source numbers reads topic no-such-topic, which does not exist on ${broker.address}; create it first`);
  }, 60_000);
});
