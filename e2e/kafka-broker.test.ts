/**
 * Conformance of the Kafka test broker, checked by two clients nobody here wrote: kafkajs and
 * librdkafka (Debian's kcat). The broker runs as a real process started by the harness.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Consumer, type EachMessagePayload, Kafka, type Producer, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RiffleProcess, TestKafkaBroker, kcat } from "./harness/index.js";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

/** Polls `predicate` (which reads state updated by client events) until it holds, or fails after `timeoutMs`. */
async function until(what: string, predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function client(broker: TestKafkaBroker, clientId: string, retries = 8): Kafka {
  return new Kafka({ brokers: [broker.address], clientId, logLevel: logLevel.NOTHING, retry: { retries, initialRetryTime: 100, maxRetryTime: 1000 } });
}

interface Consumed {
  partition: number;
  offset: number;
  key: string | null;
  value: string;
}

/** A group consumer collecting every record; resolves once `done` holds over what it has. */
async function consumeUntil(
  kafka: Kafka,
  topic: string,
  groupId: string,
  done: (records: Consumed[]) => boolean,
  readUncommitted = false,
): Promise<Consumed[]> {
  const consumer = kafka.consumer({ groupId, readUncommitted, heartbeatInterval: 300, maxWaitTimeInMs: 200 });
  const records: Consumed[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }: EachMessagePayload) => {
        records.push({ partition, offset: Number(message.offset), key: message.key?.toString() ?? null, value: message.value!.toString() });
      },
    });
    await until(`consumer of ${topic}`, () => done(records));
    return records;
  } finally {
    await consumer.disconnect();
  }
}

/** Every record of a topic, as kcat (librdkafka) reads it to the end of each partition. */
async function kcatRead(broker: TestKafkaBroker, topic: string, isolation: "read_committed" | "read_uncommitted"): Promise<Consumed[]> {
  const res = await kcat(["-b", broker.address, "-C", "-t", topic, "-e", "-q", "-X", `isolation.level=${isolation}`, "-f", "%p|%o|%k|%s\\n"]);
  expect(res.code, res.stderr).toBe(0);
  return res.stdout
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => {
      const [p, o, k, v] = l.split("|");
      return { partition: Number(p), offset: Number(o), key: k === "" ? null : k!, value: v! };
    });
}

const values = (records: Consumed[]) => records.map((r) => r.value).sort();
const range = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));

describe("Kafka test broker: produce, consume, groups and transactions (kafkajs and kcat)", () => {
  let broker: TestKafkaBroker;
  let kafka: Kafka;

  beforeAll(async () => {
    broker = await TestKafkaBroker.start({ args: ["--transaction-timeout-check-interval-ms", "100"] });
    kafka = client(broker, "conformance");
  });

  afterAll(async () => {
    await broker?.stop();
  });

  it("kafkajs and kcat produce to several partitions and each reads what both wrote, in order", async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "mixed", numPartitions: 3 }] });
    await admin.disconnect();

    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: "mixed",
      messages: range(30, (i) => `js-${i}`).map((value, i) => ({ partition: i % 3, key: `k${i}`, value, timestamp: String(1000 + i) })),
    });
    await producer.disconnect();
    for (const p of [0, 1, 2]) {
      const input = range(10, (i) => `c${p}-${i}:kcat-${p}-${i}`).join("\n");
      const res = await kcat(["-b", broker.address, "-P", "-t", "mixed", "-p", String(p), "-K", ":"], { input });
      expect(res.code, res.stderr).toBe(0);
    }

    const expected = [...range(30, (i) => `js-${i}`), ...range(30, (i) => `kcat-${Math.floor(i / 10)}-${i % 10}`)].sort();
    const byKcat = await kcatRead(broker, "mixed", "read_uncommitted");
    expect(values(byKcat)).toEqual(expected);
    for (const p of [0, 1, 2]) {
      const inPartition = byKcat.filter((r) => r.partition === p);
      expect(inPartition.map((r) => r.offset)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      // kafkajs' ten records came first, then kcat's ten, each in the order sent.
      expect(inPartition.map((r) => r.value)).toEqual([...range(10, (i) => `js-${i * 3 + p}`), ...range(10, (i) => `kcat-${p}-${i}`)]);
    }
    expect(byKcat.find((r) => r.value === "js-4")?.key).toBe("k4");

    // ListOffsets by timestamp: the first record at or after 1005 ms (js-6, js-7 and js-5 are third, third and second).
    const timeAdmin = kafka.admin();
    await timeAdmin.connect();
    const byTime = await timeAdmin.fetchTopicOffsetsByTimestamp("mixed", 1005);
    await timeAdmin.disconnect();
    expect(byTime.map((p) => [p.partition, p.offset]).sort()).toEqual([
      [0, "2"],
      [1, "2"],
      [2, "1"],
    ]);

    const byKafkajs = await consumeUntil(kafka, "mixed", "mixed-readers", (r) => r.length >= 60);
    expect(values(byKafkajs)).toEqual(expected);
    const sortByOffset = (rs: Consumed[]) => [...rs].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    expect(sortByOffset(byKafkajs)).toEqual(sortByOffset(byKcat));
  });

  it("rebalances a consumer group when a second consumer joins and when it leaves", async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "rebalance", numPartitions: 4 }] });
    await admin.disconnect();

    const assigned = new Map<string, number[]>();
    const member = async (name: string): Promise<Consumer> => {
      // Short fetch waits: kafkajs heartbeats between fetches, so a member learns of a rebalance after its current fetch.
      const consumer = kafka.consumer({
        groupId: "rebalancers",
        heartbeatInterval: 200,
        sessionTimeout: 10_000,
        rebalanceTimeout: 10_000,
        maxWaitTimeInMs: 200,
      });
      consumer.on(consumer.events.GROUP_JOIN, (e) => assigned.set(name, e.payload.memberAssignment.rebalance ?? []));
      await consumer.connect();
      await consumer.subscribe({ topic: "rebalance", fromBeginning: true });
      await consumer.run({ eachMessage: async () => {} });
      return consumer;
    };
    const sorted = (name: string) => [...(assigned.get(name) ?? [])].sort();

    const first = await member("first");
    await until("first consumer owns all 4 partitions", () => sorted("first").length === 4);
    const second = await member("second");
    await until("the partitions are split 2/2", () => sorted("first").length === 2 && sorted("second").length === 2);
    expect([...sorted("first"), ...sorted("second")].sort()).toEqual([0, 1, 2, 3]);
    await second.disconnect();
    await until("first consumer owns all 4 partitions again", () => sorted("first").length === 4);
    await first.disconnect();
  });

  it("serves kcat (librdkafka) as a group member that resumes from the offsets it committed", async () => {
    const group = ["-b", broker.address, "-G", "kcat-group", "-e", "-q", "-X", "auto.offset.reset=earliest", "-f", "%p|%o|%s\\n", "kcat-topic"];
    const produce = async (from: number, n: number) => {
      const res = await kcat(["-b", broker.address, "-P", "-t", "kcat-topic", "-K", ":"], { input: range(n, (i) => `key${from + i}:v${from + i}`).join("\n") });
      expect(res.code, res.stderr).toBe(0);
    };
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "kcat-topic", numPartitions: 2 }] });
    await produce(0, 10);
    const first = await kcat(group);
    expect(first.code, first.stderr).toBe(0);
    expect(
      first.stdout
        .trim()
        .split("\n")
        .map((l) => l.split("|")[2])
        .sort(),
    ).toEqual(range(10, (i) => `v${i}`).sort());
    await produce(10, 5);
    const second = await kcat(group);
    expect(
      second.stdout
        .trim()
        .split("\n")
        .map((l) => l.split("|")[2])
        .sort(),
    ).toEqual(range(5, (i) => `v${10 + i}`).sort());
    const committed = await admin.fetchOffsets({ groupId: "kcat-group", topics: ["kcat-topic"] });
    await admin.disconnect();
    expect(committed[0]!.partitions.reduce((n, p) => n + Number(p.offset), 0)).toBe(15);
  });

  it("keeps aborted transactions from read_committed readers (kafkajs and kcat) and shows all to read_uncommitted", async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "txn", numPartitions: 2 }] });
    await admin.disconnect();

    const producer = kafka.producer({ transactionalId: "txn-writer", maxInFlightRequests: 1, idempotent: true });
    await producer.connect();
    const write = async (prefix: string, from: number, commit: boolean) => {
      const txn = await producer.transaction();
      await txn.send({ topic: "txn", messages: range(10, (i) => `${prefix}-${from + i}`).map((value, i) => ({ partition: i % 2, value })) });
      await (commit ? txn.commit() : txn.abort());
    };
    await write("committed", 0, true);
    await write("aborted", 0, false);
    await write("committed", 10, true);
    await write("end", 0, true); // the readers' end mark: end-8 is last in partition 0, end-9 in partition 1
    await producer.disconnect();

    const committed = [...range(20, (i) => `committed-${i}`), ...range(10, (i) => `end-${i}`)].sort();
    const all = [...committed, ...range(10, (i) => `aborted-${i}`)].sort();
    expect(values(await kcatRead(broker, "txn", "read_committed"))).toEqual(committed);
    expect(values(await kcatRead(broker, "txn", "read_uncommitted"))).toEqual(all);

    const seesEnd = (rs: Consumed[]) => [0, 1].every((p) => rs.some((r) => r.partition === p && r.value === `end-${8 + p}`));
    expect(values(await consumeUntil(kafka, "txn", "txn-committed", seesEnd))).toEqual(committed);
    expect(values(await consumeUntil(kafka, "txn", "txn-uncommitted", seesEnd, true))).toEqual(all);
  });

  it("fences the older producer when a second one takes the same transactional id", async () => {
    const zombie = kafka.producer({ transactionalId: "fenced-id", maxInFlightRequests: 1, idempotent: true });
    await zombie.connect();
    const zombieTxn = await zombie.transaction();
    await zombieTxn.send({ topic: "fenced", messages: [{ value: "zombie-1" }] });

    // The new instance's InitProducerId (kafkajs sends it with its first transaction) bumps the epoch
    // and aborts the zombie's open transaction.
    const successor = kafka.producer({ transactionalId: "fenced-id", maxInFlightRequests: 1, idempotent: true });
    await successor.connect();
    const txn = await successor.transaction();

    await expect(zombieTxn.send({ topic: "fenced", messages: [{ value: "zombie-2" }] })).rejects.toThrow(/epoch/i);
    await expect(zombieTxn.commit()).rejects.toThrow();

    await txn.send({ topic: "fenced", messages: [{ value: "successor" }] });
    // Consumed offsets committed with the transaction (AddOffsetsToTxn, TxnOffsetCommit): visible once it commits.
    await txn.sendOffsets({ consumerGroupId: "fenced-readers", topics: [{ topic: "fenced", partitions: [{ partition: 0, offset: "1" }] }] });
    const admin = kafka.admin();
    await admin.connect();
    const before = await admin.fetchOffsets({ groupId: "fenced-readers", topics: ["fenced"] });
    expect(before[0]!.partitions[0]!.offset).toBe("-1");
    await txn.commit();
    const after = await admin.fetchOffsets({ groupId: "fenced-readers", topics: ["fenced"] });
    expect(after[0]!.partitions[0]!.offset).toBe("1");
    await admin.disconnect();
    await Promise.all([zombie.disconnect(), successor.disconnect()]);

    expect(values(await kcatRead(broker, "fenced", "read_committed"))).toEqual(["successor"]);
    expect(values(await kcatRead(broker, "fenced", "read_uncommitted"))).toEqual(["successor", "zombie-1"]);
  });

  it("aborts a transaction that outlives its timeout and fences its producer", async () => {
    const slow = kafka.producer({ transactionalId: "slow-id", transactionTimeout: 1000, maxInFlightRequests: 1, idempotent: true });
    await slow.connect();
    const txn = await slow.transaction();
    await txn.send({ topic: "timeouts", messages: [{ value: "too-slow" }] });
    await broker.process.waitForLog((l) => l.msg === "transaction timed out: aborted, producer fenced" && l.transactionalId === "slow-id", 15_000);
    await expect(txn.commit()).rejects.toThrow();
    await slow.disconnect();

    // A read_committed reader gets past the aborted transaction: the last stable offset moved on.
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: "timeouts", messages: [{ value: "after" }] });
    await producer.disconnect();
    const read = await consumeUntil(kafka, "timeouts", "timeout-readers", (rs) => rs.some((r) => r.value === "after"));
    expect(values(read)).toEqual(["after"]);
    expect(values(await kcatRead(broker, "timeouts", "read_committed"))).toEqual(["after"]);
  });

  it("answers bad requests with Kafka's errors or a closed connection, and keeps serving", async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "bad-input", numPartitions: 1 }] });
    await admin.disconnect();

    // ApiVersions of an unknown version: UNSUPPORTED_VERSION (35) in v0's format, with the versions served.
    const apiVersions = await rawExchange(broker, request(18, 99, 7, Buffer.alloc(0)));
    expect(apiVersions.closed).toBe(false);
    const body = apiVersions.response!;
    expect(body.readInt32BE(0)).toBe(7); // correlation id
    expect(body.readInt16BE(4)).toBe(35);
    const apis = new Map<number, [number, number]>();
    for (let i = 0, n = body.readInt32BE(6); i < n; i++) apis.set(body.readInt16BE(10 + i * 6), [body.readInt16BE(12 + i * 6), body.readInt16BE(14 + i * 6)]);
    expect(apis.get(0)).toEqual([3, 8]); // Produce
    expect(apis.get(1)).toEqual([4, 11]); // Fetch

    // A version not served, an unknown API, a body cut short, a negative size: the connection is closed.
    expect((await rawExchange(broker, request(3, 99, 1, Buffer.alloc(0)))).closed).toBe(true);
    expect((await rawExchange(broker, request(999, 0, 1, Buffer.alloc(0)))).closed).toBe(true);
    expect((await rawExchange(broker, request(3, 1, 1, Buffer.from([0, 0, 0, 5, 0, 3])))).closed).toBe(true);
    expect((await rawExchange(broker, Buffer.from([0xff, 0xff, 0xff, 0xf0, 1, 2, 3]))).closed).toBe(true);
    await broker.process.waitForLog((l) => l.msg === "closing a client connection" && String(l.reason).includes("Metadata v99 is not served"));

    // A record batch whose CRC does not match its contents: CORRUPT_MESSAGE (2) for that partition.
    const batch = recordBatch("payload");
    batch[batch.length - 1]! ^= 0xff;
    const corrupt = await rawExchange(broker, request(0, 3, 9, produceBody("bad-input", batch)));
    expect(produceErrorCode(corrupt.response!)).toBe(2);
    // A batch compressed with a codec the broker cannot read (snappy): UNSUPPORTED_COMPRESSION_TYPE (76).
    const snappy = await rawExchange(broker, request(0, 3, 10, produceBody("bad-input", recordBatch("payload", 2))));
    expect(produceErrorCode(snappy.response!)).toBe(76);
    // And an intact one is stored.
    const good = await rawExchange(broker, request(0, 3, 11, produceBody("bad-input", recordBatch("payload"))));
    expect(produceErrorCode(good.response!)).toBe(0);

    expect(broker.process.hasExited).toBe(false);
    expect(values(await kcatRead(broker, "bad-input", "read_uncommitted"))).toEqual(["payload"]);
  });
});

describe("Kafka test broker: durability across kill -9", () => {
  let broker: TestKafkaBroker;

  beforeAll(async () => {
    broker = await TestKafkaBroker.start();
  });

  afterAll(async () => {
    await broker?.stop();
  });

  it("keeps every acknowledged acks=all record and every committed offset through kill -9 and restart", async () => {
    const kafka = client(broker, "durability", 0);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "durable", numPartitions: 3 }] });
    await admin.disconnect();

    // Offsets committed by a group before the kill.
    const first = kafka.producer();
    await first.connect();
    await first.send({ topic: "durable", messages: range(30, (i) => `before-${i}`).map((value, i) => ({ partition: i % 3, value })) });
    await first.disconnect();
    const consumer = kafka.consumer({ groupId: "durable-readers", heartbeatInterval: 300, maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic: "durable", fromBeginning: true });
    let seen = 0;
    await consumer.run({ autoCommit: false, eachMessage: async () => void seen++ });
    await until("the group read the first 30 records", () => seen >= 30);
    await consumer.commitOffsets([0, 1, 2].map((partition) => ({ topic: "durable", partition, offset: "10" })));
    await consumer.disconnect();

    // A producer writes batches while the broker is killed; what was acknowledged must survive.
    const producer: Producer = kafka.producer({ retry: { retries: 0 } });
    await producer.connect();
    const acknowledged: string[] = [];
    let failed = false;
    const writing = (async () => {
      for (let batch = 0; !failed; batch++) {
        const messages = range(20, (i) => `during-${batch}-${i}`).map((value, i) => ({ partition: i % 3, value }));
        try {
          await producer.send({ topic: "durable", acks: -1, messages });
          acknowledged.push(...messages.map((m) => m.value));
        } catch {
          failed = true;
        }
      }
    })();
    await until("a few hundred records acknowledged", () => acknowledged.length >= 400);
    await broker.kill9();
    await writing;
    await producer.disconnect().catch(() => {});

    await broker.restart();
    const stored = new Set(values(await kcatRead(broker, "durable", "read_uncommitted")));
    const lost = [...range(30, (i) => `before-${i}`), ...acknowledged].filter((v) => !stored.has(v));
    expect(lost).toEqual([]);

    const restartedAdmin = client(broker, "durability-after").admin();
    await restartedAdmin.connect();
    const offsets = await restartedAdmin.fetchOffsets({ groupId: "durable-readers", topics: ["durable"] });
    await restartedAdmin.disconnect();
    expect(offsets[0]!.partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([
      [0, "10"],
      [1, "10"],
      [2, "10"],
    ]);
  });
});

describe("riffle dev kafka", () => {
  it("runs the broker in the foreground for demos, refuses a port or data directory in use, and stops on SIGTERM", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "riffle-dev-kafka-"));
    const dev = new RiffleProcess("dev-kafka", ["dev", "kafka", "--port", "0", "--data-dir", dataDir, "--partitions", "2"]);
    try {
      const line = await dev.waitForStderr((l) => l.startsWith("Kafka test broker listening on"));
      const address = /on (\S+),/.exec(line)![1]!;
      const produced = await kcat(["-b", address, "-P", "-t", "demo"], { input: "hello\n" });
      expect(produced.code, produced.stderr).toBe(0);
      const metadata = await kcat(["-b", address, "-L", "-t", "demo"]);
      expect(metadata.stdout).toContain('topic "demo" with 2 partitions');

      const clash = new RiffleProcess("dev-kafka-clash", ["dev", "kafka", "--port", address.split(":")[1]!, "--data-dir", join(dataDir, "other")]);
      expect((await clash.waitForExit(20_000)).code).toBe(1);
      expect(clash.stderr.join("\n")).toMatch(/error\[PORT_IN_USE\].*is in use/);

      const sameDir = new RiffleProcess("dev-kafka-same-dir", ["dev", "kafka", "--port", "0", "--data-dir", dataDir]);
      expect((await sameDir.waitForExit(20_000)).code).toBe(1);
      expect(sameDir.stderr.join("\n")).toMatch(/error\[CLUSTER_ALREADY_RUNNING\].*in use by the Kafka test broker with pid/);

      dev.kill("SIGTERM");
      expect((await dev.waitForExit(20_000)).code).toBe(0);
    } finally {
      await dev.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

// --- Raw requests, for what no well-behaved client sends. ---

function request(apiKey: number, version: number, correlationId: number, body: Buffer): Buffer {
  const clientId = Buffer.from("raw");
  const header = Buffer.alloc(10);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(version, 2);
  header.writeInt32BE(correlationId, 4);
  header.writeInt16BE(clientId.length, 8);
  const size = Buffer.alloc(4);
  size.writeInt32BE(header.length + clientId.length + body.length);
  return Buffer.concat([size, header, clientId, body]);
}

/** Sends bytes on a fresh connection; resolves with the first response, or `closed` if the broker hung up. */
function rawExchange(broker: TestKafkaBroker, bytes: Buffer): Promise<{ closed: boolean; response?: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("no response and no close within 10 s"));
    }, 10_000);
    socket.on("data", (d: Buffer) => {
      received = Buffer.concat([received, d]);
      if (received.length >= 4 && received.length >= 4 + received.readInt32BE(0)) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ closed: false, response: received.subarray(4, 4 + received.readInt32BE(0)) });
      }
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ closed: true });
    });
    socket.on("error", () => {});
    socket.connect(broker.port, "127.0.0.1", () => socket.write(bytes));
  });
}

const CRC32C_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32c(buf: Buffer): number {
  let crc = 0xffffffff;
  for (const b of buf) crc = CRC32C_TABLE[(crc ^ b) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** A v2 record batch with one record (value only), written by hand as the protocol guide describes. */
function recordBatch(value: string, compression = 0): Buffer {
  const v = Buffer.from(value);
  // attributes 0, timestamp delta 0, offset delta 0, key null (-1 → zig-zag 1), value, no headers
  const body = Buffer.concat([Buffer.from([0, 0, 0, 1, v.length * 2]), v, Buffer.from([0])]);
  const record = Buffer.concat([Buffer.from([body.length * 2]), body]);
  const afterCrc = Buffer.alloc(40);
  afterCrc.writeInt16BE(compression, 0);
  afterCrc.writeInt32BE(0, 2); // last offset delta
  afterCrc.writeBigInt64BE(1000n, 6);
  afterCrc.writeBigInt64BE(1000n, 14);
  afterCrc.writeBigInt64BE(-1n, 22); // no producer id
  afterCrc.writeInt16BE(-1, 30);
  afterCrc.writeInt32BE(-1, 32);
  afterCrc.writeInt32BE(1, 36); // one record
  const tail = Buffer.concat([afterCrc, record]);
  const head = Buffer.alloc(21);
  head.writeBigInt64BE(0n, 0);
  head.writeInt32BE(9 + tail.length, 8);
  head.writeInt32BE(0, 12);
  head.writeInt8(2, 16);
  head.writeUInt32BE(crc32c(tail), 17);
  return Buffer.concat([head, tail]);
}

/** Produce v3: acks=all, one topic, partition 0. */
function produceBody(topic: string, batch: Buffer): Buffer {
  const t = Buffer.from(topic);
  const b = Buffer.alloc(2 + 2 + 4 + 4 + 2 + t.length + 4 + 4 + 4);
  let o = 0;
  o = b.writeInt16BE(-1, o); // null transactional id
  o = b.writeInt16BE(-1, o); // acks
  o = b.writeInt32BE(5000, o);
  o = b.writeInt32BE(1, o);
  o = b.writeInt16BE(t.length, o);
  o += t.copy(b, o);
  o = b.writeInt32BE(1, o);
  o = b.writeInt32BE(0, o);
  b.writeInt32BE(batch.length, o);
  return Buffer.concat([b, batch]);
}

/** The error code of the single partition of a Produce v3 response (after the correlation id). */
function produceErrorCode(response: Buffer): number {
  const nameLength = response.readInt16BE(8);
  return response.readInt16BE(8 + 2 + nameLength + 4 + 4);
}
