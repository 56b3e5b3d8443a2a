/**
 * The exactly-once KafkaSink's transactions against the Kafka test broker, driven the way the sink
 * operator drives them (flush and preCommit at a barrier, commit on completion and again after a
 * restore, abortLeftovers on restore), with kcat reading what a read_committed consumer sees.
 */
import type { RuntimeContext, TwoPhaseCommitWriter } from "@riffle/sdk";
import { createLogger } from "@riffle/shared";
import { KafkaSink, type KafkaTransaction } from "@riffle/sdk/kafka";
import { Kafka, logLevel } from "kafkajs";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestKafkaBroker, kcat } from "./harness/index.js";

let broker: TestKafkaBroker;

beforeAll(async () => {
  broker = await TestKafkaBroker.start();
  const admin = new Kafka({ brokers: [broker.address], clientId: "e2e", logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: "tx", numPartitions: 2 },
      { topic: "sel-a", numPartitions: 2 },
      { topic: "sel-b", numPartitions: 2 },
      { topic: "closed", numPartitions: 1 },
      { topic: "lingering", numPartitions: 1 },
      { topic: "tail", numPartitions: 1 },
    ],
    waitForLeaders: true,
  });
  await admin.disconnect();
}, 60_000);

afterAll(async () => {
  await broker?.stop();
});

function context(subtaskIndex: number, parallelism: number, attempt: number, log = createLogger("e2e")): RuntimeContext {
  return {
    jobId: "j",
    jobName: "tx",
    taskName: "sink",
    subtaskIndex,
    parallelism,
    maxParallelism: 128,
    attempt,
    args: [],
    metrics: { counter: () => ({ inc() {} }), gauge() {} },
    log,
  };
}

/** What kcat reads of a topic now (read_committed: up to the last stable offset). */
async function readTopic(topic: string, readCommitted: boolean): Promise<string[]> {
  const isolation = readCommitted ? ["-X", "isolation.level=read_committed"] : [];
  const r = await kcat(["-C", "-b", broker.address, "-t", topic, "-o", "beginning", "-e", "-q", ...isolation, "-f", "%s\\n"]);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout.split("\n").filter((l) => l.length > 0);
}

/** A record of a plain (non-transactional) producer: read_committed sees it once no transaction before it is open. */
async function produceLater(topic: string, value: string): Promise<void> {
  const producer = new Kafka({ brokers: [broker.address], clientId: "e2e", logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: [{ value }] });
  await producer.disconnect();
}

async function committed(): Promise<string[]> {
  const r = await kcat(["-C", "-b", broker.address, "-t", "tx", "-o", "beginning", "-e", "-q", "-X", "isolation.level=read_committed", "-f", "%s\\n"]);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout
    .split("\n")
    .filter((l) => l.length > 0)
    .sort();
}

describe("KafkaSink transactions", () => {
  it("a restored transaction commits by its producer id and epoch (twice is fine), leftovers are aborted, and the zombie is fenced", async () => {
    const sink = KafkaSink.builder<string>().bootstrapServers(broker.address).topic("tx").exactlyOnce("t1").string().build();
    const first = sink.createWriter(context(0, 1, 0)) as TwoPhaseCommitWriter<string, KafkaTransaction>;
    first.write("a");
    first.write("b");
    await first.flush?.(false);
    const staged = await first.preCommit(1);
    expect(staged).toMatchObject({ transactionalId: "t1-0-1" });
    // Written after the barrier of checkpoint 1: in the next transaction, which no checkpoint will hold.
    first.write("c");
    await first.flush?.(false);
    expect(await committed()).toEqual([]);

    // The task restarts from checkpoint 1: a new writer commits what checkpoint 1 staged, from its
    // stored id and epoch alone, then aborts what the failed attempt left open.
    const second = sink.createWriter(context(0, 1, 1)) as TwoPhaseCommitWriter<string, KafkaTransaction>;
    await second.commit(staged!);
    await second.commit(staged!);
    expect(await committed()).toEqual(["a", "b"]);
    await second.abortLeftovers([staged!], { checkpointId: 1, retainedUpTo: 1, nextCheckpointId: 2, previousParallelism: 1 });

    // The old writer is a zombie now: its next send is refused, with a reason.
    first.write("d");
    await expect(first.flush?.(false)).rejects.toMatchObject({ code: "KAFKA_PRODUCER_FENCED" });

    second.write("e");
    await second.flush?.(false);
    const next = await second.preCommit(2);
    expect(next).toMatchObject({ transactionalId: "t1-0-2" });
    await second.commit(next!);
    expect(await committed()).toEqual(["a", "b", "e"]);
    await first.close?.();
    await second.close?.();
  }, 60_000);

  it("after a rescale down, the remaining subtask aborts what the subtasks that are gone left open", async () => {
    const sink = KafkaSink.builder<string>().bootstrapServers(broker.address).topic("tx").exactlyOnce("t2").string().build();
    const before = await committed();
    const gone = sink.createWriter(context(1, 2, 0)) as TwoPhaseCommitWriter<string, KafkaTransaction>;
    gone.write("from subtask 1");
    await gone.flush?.(false);
    const only = sink.createWriter(context(0, 1, 1)) as TwoPhaseCommitWriter<string, KafkaTransaction>;
    await only.abortLeftovers([], { checkpointId: 0, retainedUpTo: 0, nextCheckpointId: 1, previousParallelism: 2 });
    only.write("after the rescale");
    await only.flush?.(false);
    await only.commit((await only.preCommit(1))!);
    expect(await committed()).toEqual([...before, "after the rescale"].sort());
    // Subtask 1's transaction was aborted by a new epoch of its id: its writer is fenced.
    gone.write("late");
    await expect(gone.flush?.(false)).rejects.toMatchObject({ code: "KAFKA_PRODUCER_FENCED" });
    await gone.close?.();
    await only.close?.();
  }, 60_000);
  it("a restored transaction the broker aborted meanwhile cannot be committed: the task's logger says so, and the restore goes on", async () => {
    const sink = KafkaSink.builder<string>().bootstrapServers(broker.address).topic("tx").exactlyOnce("t3").string().build();
    const before = await committed();
    const first = sink.createWriter(context(0, 1, 0)) as TwoPhaseCommitWriter<string, KafkaTransaction>;
    first.write("staged, then aborted");
    await first.flush?.(false);
    const staged = (await first.preCommit(1))!;
    // A new epoch of the same id aborts the staged transaction, as the broker's transaction timeout would.
    const other = sink.createWriter(context(0, 1, 1)) as TwoPhaseCommitWriter<string, KafkaTransaction>;
    await other.abortLeftovers([], { checkpointId: 0, retainedUpTo: 0, nextCheckpointId: 1, previousParallelism: 1 });

    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const restored = sink.createWriter(context(0, 1, 2, log)) as TwoPhaseCommitWriter<string, KafkaTransaction>;
    await restored.commit(staged);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        transactionalId: "t3-0-1",
        producerId: staged.producerId,
        producerEpoch: staged.producerEpoch,
        msg: expect.stringContaining("could not commit transaction t3-0-1 of a restored checkpoint again"),
      }),
    ]);
    expect(await committed()).toEqual(before);
    await Promise.all([first.close?.(), other.close?.(), restored.close?.()]);
  }, 60_000);
  it("at-least-once: a topic selector, keys, a partitioner and headers arrive as kcat reads them; an unknown topic or partition fails the writer saying which", async () => {
    type Event = { kind: "a" | "b"; id: number };
    const sink = KafkaSink.builder<Event>()
      .bootstrapServers(broker.address)
      .topicSelector((e) => `sel-${e.kind}`)
      .keySerializer((e) => `k${e.id}`)
      .valueSerializer((e) => JSON.stringify(e))
      .partitioner((e, partitions) => e.id % partitions)
      .build();
    const writer = sink.createWriter(context(0, 1, 0));
    for (let id = 0; id < 6; id++) writer.write({ kind: id < 4 ? "a" : "b", id });
    await writer.flush?.(false);
    const read = async (topic: string) => {
      const r = await kcat(["-C", "-b", broker.address, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%p %k %s\\n"]);
      if (r.code !== 0) throw new Error(r.stderr);
      return r.stdout
        .split("\n")
        .filter((l) => l.length > 0)
        .sort();
    };
    expect(await read("sel-a")).toEqual(['0 k0 {"kind":"a","id":0}', '0 k2 {"kind":"a","id":2}', '1 k1 {"kind":"a","id":1}', '1 k3 {"kind":"a","id":3}']);
    expect(await read("sel-b")).toEqual(['0 k4 {"kind":"b","id":4}', '1 k5 {"kind":"b","id":5}']);
    await writer.close?.();

    const headers = KafkaSink.builder<string>()
      .bootstrapServers(broker.address)
      .recordSerializer((v) => ({ topic: "sel-a", partition: 0, value: v, headers: { source: "e2e" }, timestamp: 1_700_000_000_000 }))
      .build()
      .createWriter(context(0, 1, 0));
    headers.write("with headers");
    await headers.flush?.(false);
    const r = await kcat(["-C", "-b", broker.address, "-t", "sel-a", "-p", "0", "-o", "-1", "-e", "-q", "-f", "%T %h %s\\n"]);
    expect(r.stdout.trim()).toBe("1700000000000 source=e2e with headers");
    await headers.close?.();

    const missing = KafkaSink.builder<string>()
      .bootstrapServers(broker.address)
      .topic("no-such-topic")
      .string()
      .build()
      .createWriter(context(0, 1, 0));
    missing.write("x");
    await expect(missing.flush?.(false)).rejects.toMatchObject({
      code: "KAFKA_TOPIC_NOT_FOUND",
      message: expect.stringContaining(`the Kafka sink writes topic no-such-topic, which does not exist on ${broker.address}; create it first`),
    });
    await missing.close?.();
    const outOfRange = KafkaSink.builder<string>()
      .bootstrapServers(broker.address)
      .topic("sel-b")
      .string()
      .partitioner(() => 7)
      .build()
      .createWriter(context(0, 1, 0));
    outOfRange.write("x");
    await expect(outOfRange.flush?.(false)).rejects.toMatchObject({
      code: "SINK_WRITE_FAILED",
      message: expect.stringContaining("chose partition 7 of topic sel-b, which has partitions 0 to 1"),
    });
    await outOfRange.close?.();
  }, 60_000);

  it("close aborts the open transaction, so read_committed readers do not stall, and keeps a staged one for the next attempt to commit", async () => {
    const sink = KafkaSink.builder<string>().bootstrapServers(broker.address).topic("closed").exactlyOnce("c1").string().build();
    const writer = sink.createWriter(context(0, 1, 0)) as TwoPhaseCommitWriter<string, KafkaTransaction>;
    writer.write("committed");
    await writer.flush?.(false);
    await writer.commit((await writer.preCommit(1))!);
    // Staged for checkpoint 2, which completed, but the task failed before it heard so.
    writer.write("staged");
    await writer.flush?.(false);
    const staged = (await writer.preCommit(2))!;
    writer.write("open when the task closed");
    await writer.flush?.(false);
    await writer.close?.();
    await produceLater("closed", "another producer, later");
    // read_committed stops before the staged transaction until it is committed or aborted.
    expect(await readTopic("closed", true)).toEqual(["committed"]);
    // The next attempt commits the staged transaction from the checkpoint (close left it alone), and
    // nothing after it is held back: the transaction open at close was aborted.
    const next = sink.createWriter(context(0, 1, 1)) as TwoPhaseCommitWriter<string, KafkaTransaction>;
    await next.commit(staged);
    expect(await readTopic("closed", true)).toEqual(["committed", "staged", "another producer, later"]);
    await next.close?.();
  }, 60_000);

  it("a fresh start aborts what an earlier job with the same prefix left open, also of subtasks beyond its parallelism", async () => {
    const sink = KafkaSink.builder<string>().bootstrapServers(broker.address).topic("lingering").exactlyOnce("f1").string().build();
    // An earlier job at parallelism 2, killed without closing: subtask 0 has f1-0-1 open; subtask 1
    // was idle at checkpoint 1 (f1-1-1 used, nothing written), staged f1-1-2 at checkpoint 2 and has f1-1-3 open.
    const old0 = sink.createWriter(context(0, 2, 0)) as TwoPhaseCommitWriter<string, KafkaTransaction>;
    const old1 = sink.createWriter(context(1, 2, 0)) as TwoPhaseCommitWriter<string, KafkaTransaction>;
    old0.write("old 0 open");
    await old0.flush?.(false);
    expect(await old1.preCommit(1)).toBeUndefined();
    old1.write("old 1 staged");
    await old1.flush?.(false);
    expect(await old1.preCommit(2)).toMatchObject({ transactionalId: "f1-1-2" });
    old1.write("old 1 open");
    await old1.flush?.(false);
    await produceLater("lingering", "another producer, before the new job");
    expect(await readTopic("lingering", true)).toEqual([]);

    // A new job with the same prefix at parallelism 1, started without a savepoint.
    const fresh = sink.createWriter(context(0, 1, 0)) as TwoPhaseCommitWriter<string, KafkaTransaction>;
    await fresh.abortLingering?.();
    expect(await readTopic("lingering", true)).toEqual(["another producer, before the new job"]);
    fresh.write("new job");
    await fresh.flush?.(false);
    await fresh.commit((await fresh.preCommit(1))!);
    expect(await readTopic("lingering", true)).toEqual(["another producer, before the new job", "new job"]);
    // The old job's writers are fenced.
    old1.write("late");
    await expect(old1.flush?.(false)).rejects.toMatchObject({ code: "KAFKA_PRODUCER_FENCED" });
    await Promise.all([old0.close?.(), old1.close?.(), fresh.close?.()]);
  }, 60_000);

  it("a record written while a request is in flight goes out when that request completes, without another write or a flush", async () => {
    const writer = KafkaSink.builder<string>()
      .bootstrapServers(broker.address)
      .topic("tail")
      .string()
      .build()
      .createWriter(context(0, 1, 0));
    writer.write("first"); // sent at once
    writer.write("second"); // the first is in flight: buffered
    const deadline = Date.now() + 20_000;
    let seen: string[] = [];
    while (Date.now() < deadline) {
      seen = await readTopic("tail", false);
      if (seen.length >= 2) break;
    }
    expect(seen).toEqual(["first", "second"]);
    await writer.close?.();
  }, 60_000);
});
