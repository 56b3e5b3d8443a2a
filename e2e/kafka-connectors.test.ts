/**
 * KafkaSource and KafkaSink end to end: a real cluster (JobManager, TaskManagers), the Kafka test
 * broker, kafkajs to produce the input, and kcat (librdkafka, read_committed) to read the output.
 */
import { spawnSync } from "node:child_process";
import { freePort } from "@riffle/shared";
import type { JobExceptions } from "@riffle/shared/rest-api";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  KafkaApiKey,
  KafkaProxy,
  type LogLine,
  type RiffleProcess,
  TestCluster,
  TestKafkaBroker,
  allRunning,
  kcat,
  killTaskManagers,
  mulberry32,
  waitForCheckpoints,
} from "./harness/index.js";

type Stats = { counts: { completed: number } };

/** Resolves once `more` checkpoints of the job completed after now. */
async function checkpointsAfterNow(cluster: TestCluster, jobId: string, more: number): Promise<void> {
  const now = await waitForCheckpoints<Stats>(cluster, jobId, () => true);
  await waitForCheckpoints<Stats>(cluster, jobId, (s) => s.counts.completed >= now.counts.completed + more, 60_000);
}

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

const JOB = "e2e/jobs/kafka-count.ts";

let broker: TestKafkaBroker;
let kafka: Kafka;

beforeAll(async () => {
  broker = await TestKafkaBroker.start();
  kafka = new Kafka({ brokers: [broker.address], clientId: "e2e", logLevel: logLevel.NOTHING });
}, 60_000);

afterAll(async () => {
  await broker?.stop();
});

async function createTopic(topic: string, partitions: number, client = kafka): Promise<void> {
  const admin = client.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

/** Numbers from..to-1 as JSON values, keyed by the number, spread over the topic's partitions. */
async function produceNumbers(topic: string, from: number, to: number, batch = 2000, client = kafka): Promise<void> {
  const producer = client.producer();
  await producer.connect();
  try {
    for (let i = from; i < to; i += batch) {
      const messages = [];
      for (let n = i; n < Math.min(to, i + batch); n++) messages.push({ key: String(n), value: JSON.stringify(n) });
      await producer.send({ topic, messages, acks: -1 });
    }
  } finally {
    await producer.disconnect();
  }
}

/**
 * The records of `topic` as kcat (librdkafka) reads them to the end of each partition, sorted: with
 * read_committed (default) what a transactional consumer sees, with read_uncommitted aborted and open
 * transactions' records too. `format`: kcat's -f without the newline (default the value, `%s`).
 */
async function readTopic(
  topic: string,
  options: { isolation?: "read_committed" | "read_uncommitted"; format?: string; brokerAddress?: string } = {},
): Promise<string[]> {
  const isolation = options.isolation ?? "read_committed";
  const format = `${options.format ?? "%s"}\\n`;
  const r = await kcat(
    ["-C", "-b", options.brokerAddress ?? broker.address, "-t", topic, "-o", "beginning", "-e", "-q", "-X", `isolation.level=${isolation}`, "-f", format],
    {
      timeoutMs: 60_000,
    },
  );
  if (r.code !== 0) throw new Error(`kcat failed (${r.code}): ${r.stderr}`);
  return r.stdout
    .split("\n")
    .filter((l) => l.length > 0)
    .sort();
}

/** What a read_committed consumer sees in `topic` (values), sorted. */
function committedOutput(topic: string): Promise<string[]> {
  return readTopic(topic);
}

/** The output every correct run of kafka-count writes for the numbers 0..n-1: (k, 1..n_k) per key. */
function expectedCounts(n: number): string[] {
  const perKey = new Map<number, number>();
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 100;
    const c = (perKey.get(k) ?? 0) + 1;
    perKey.set(k, c);
    out.push(JSON.stringify([k, c]));
  }
  return out.sort();
}

/** Produces numbers from..to-1 in batches of 500, one batch every 200 ms: input that keeps coming while the test acts. */
async function producePaced(topic: string, from: number, to: number, client = kafka): Promise<void> {
  for (let i = from; i < to; i += 500) {
    await produceNumbers(topic, i, Math.min(to, i + 500), 2000, client);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Rescales the job through a savepoint (REST) and waits until every subtask runs at the new parallelism. */
async function rescale(cluster: TestCluster, jobId: string, parallelism: number): Promise<void> {
  const res = await cluster.rest<{ "request-id": string }>("POST", `/jobs/${jobId}/rescaling?parallelism=${parallelism}`);
  expect(res.status).toBe(202);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const op = await cluster.rest<{ status: { id: string }; operation?: { "failure-cause"?: unknown } }>(
      "GET",
      `/jobs/${jobId}/rescaling/${res.body["request-id"]}`,
    );
    if (op.body.status.id === "COMPLETED") {
      expect(op.body.operation?.["failure-cause"]).toBeUndefined();
      break;
    }
    if (Date.now() > deadline) throw new Error(`rescaling to ${parallelism} did not complete within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await cluster.waitForJob(jobId, (j) => allRunning(j) && j.vertices.every((v) => v.parallelism === parallelism), 60_000);
}

/** Polls the committed output until it has `n` records (or fails after the deadline). */
async function waitForOutput(topic: string, n: number, timeoutMs: number, brokerAddress = broker.address): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await readTopic(topic, { brokerAddress });
    if (out.length >= n) return out;
    if (Date.now() > deadline) throw new Error(`${topic} has ${out.length} committed records, not ${n}, after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe("Kafka connectors end to end", () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    // A killed TaskManager is noticed at once (its connections break); a paused one by its missing
    // heartbeats, after 8 s: time enough for the zombie test to look at the log while it is paused.
    cluster = await TestCluster.start({ taskmanagers: 3, config: { "heartbeat.interval": "500ms", "heartbeat.timeout": "8s" } });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it("bounded source, exactly-once sink: the job ends at the offsets it found at its start though records keep coming, and read_committed output is complete (kcat)", async () => {
    const N = 5000;
    const M = 1000;
    // A broker of its own behind a proxy, which holds the readers' fetches until records came after the stopping offsets.
    const proxy = await KafkaProxy.start();
    const behind = await TestKafkaBroker.start({ args: ["--advertised-port", String(proxy.port)] });
    proxy.target(behind.port);
    const address = `127.0.0.1:${proxy.port}`;
    const client = new Kafka({ brokers: [address], clientId: "e2e", logLevel: logLevel.NOTHING });
    try {
      await createTopic("bounded-in", 3, client);
      await createTopic("bounded-out", 2, client);
      await produceNumbers("bounded-in", 0, N, 2000, client);
      // Every TaskManager's fetches wait; the JobManager's enumerator finds the stopping offsets meanwhile.
      proxy.hold(
        cluster.taskmanagers.filter((t) => !t.hasExited).map((t) => t.pid),
        [KafkaApiKey.Fetch],
      );
      const jobId = await cluster.submit(JOB, {
        parallelism: 2,
        args: ["--brokers", address, "--in", "bounded-in", "--out", "bounded-out", "--bounded", "true"],
      });
      // A reader fetches only once it has a split, and splits carry the stopping offsets found at discovery.
      const deadline = Date.now() + 60_000;
      while (!proxy.heldRequests().includes(KafkaApiKey.Fetch)) {
        if (Date.now() > deadline) throw new Error("no reader fetched within 60 s");
        await new Promise((r) => setTimeout(r, 20));
      }
      // Records after the stopping offsets, there when the readers first fetch: they must not be read.
      await produceNumbers("bounded-in", N, N + M, 2000, client);
      proxy.release();
      await cluster.waitForStatus(jobId, "FINISHED", 90_000);
      expect((await readTopic("bounded-in", { brokerAddress: address })).length).toBe(N + M);
      expect(await readTopic("bounded-out", { brokerAddress: address })).toEqual(expectedCounts(N));
    } finally {
      proxy.release();
      await proxy.stop();
      await behind.stop();
    }
  }, 120_000);

  it("TaskManagers killed at seeded random moments: the read_committed output equals a failure-free run", async () => {
    const N = 30_000;
    const seed = Number(process.env.RIFFLE_CHAOS_SEED ?? 20261207);
    const random = mulberry32(seed);
    await createTopic("chaos-in", 4);
    await createTopic("chaos-clean", 3);
    await createTopic("chaos-out", 3);
    await produceNumbers("chaos-in", 0, N / 3);

    // The chaos run: unbounded, at parallelism 3 over 3 TaskManagers (every kill hits a task), while
    // the rest of the input comes in paced batches.
    const jobId = await cluster.submit(JOB, {
      parallelism: 3,
      args: ["--brokers", broker.address, "--in", "chaos-in", "--out", "chaos-out", "--interval", "300"],
    });
    const producing = producePaced("chaos-in", N / 3, N);
    await killTaskManagers(cluster, jobId, { kills: 3, random, minMs: 300, spanMs: 1500, beforeKill: () => checkpointsAfterNow(cluster, jobId, 1) });
    await producing;
    const actual = await waitForOutput("chaos-out", N, 120_000);
    // Two checkpoints later nothing more has come: a duplicate would show here.
    await checkpointsAfterNow(cluster, jobId, 2);
    const job = await cluster.job(jobId);
    expect(job.numRestarts).toBeGreaterThanOrEqual(3);
    await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`);

    // The failure-free run: bounded, over the same input.
    const clean = await cluster.submit(JOB, {
      parallelism: 2,
      args: ["--brokers", broker.address, "--in", "chaos-in", "--out", "chaos-clean", "--bounded", "true"],
    });
    await cluster.waitForStatus(clean, "FINISHED", 90_000);
    const expected = await committedOutput("chaos-clean");
    expect(expected).toEqual(expectedCounts(N));
    expect(actual.length).toBe(N);
    expect(await committedOutput("chaos-out")).toEqual(expected);
  }, 300_000);

  it("rescaled 2 → 3 → 1 through savepoints while input keeps coming: every record counted once", async () => {
    const N = 20_000;
    await createTopic("rescale-in", 4);
    await createTopic("rescale-out", 2);
    await produceNumbers("rescale-in", 0, N / 4);
    const jobId = await cluster.submit(JOB, {
      parallelism: 2,
      args: ["--brokers", broker.address, "--in", "rescale-in", "--out", "rescale-out", "--interval", "300"],
    });
    await cluster.waitForJob(jobId, allRunning);
    const producing = producePaced("rescale-in", N / 4, N);
    await checkpointsAfterNow(cluster, jobId, 1);
    await rescale(cluster, jobId, 3);
    await checkpointsAfterNow(cluster, jobId, 1);
    await rescale(cluster, jobId, 1);
    await producing;
    const actual = await waitForOutput("rescale-out", N, 120_000);
    await checkpointsAfterNow(cluster, jobId, 2);
    expect((await cluster.job(jobId)).numRestarts).toBe(0);
    await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`);
    expect(actual.length).toBe(N);
    expect(await committedOutput("rescale-out")).toEqual(expectedCounts(N));
  }, 240_000);

  it("a broker killed (-9) and restarted mid-job: the job recovers, and every record is counted once", async () => {
    const N = 12_000;
    await createTopic("restart-in", 3);
    await createTopic("restart-out", 2);
    await produceNumbers("restart-in", 0, N / 2);
    const jobId = await cluster.submit(JOB, {
      parallelism: 2,
      args: ["--brokers", broker.address, "--in", "restart-in", "--out", "restart-out", "--interval", "300"],
    });
    await cluster.waitForJob(jobId, allRunning);
    await checkpointsAfterNow(cluster, jobId, 1);
    await broker.kill9();
    // The job notices (a fetch, a send or a commit fails), and its restart strategy keeps trying.
    await cluster.waitForJob(jobId, (j) => (j.numRestarts ?? 0) >= 1, 60_000);
    // The failure says what happened and where: the broker at that address does not answer (the
    // tasks cancelled because of it fail with reasons of their own); no Kafka error without a cause.
    const failures = (await cluster.rest<JobExceptions>("GET", `/jobs/${jobId}/exceptions`)).body.exceptionHistory.entries;
    const texts = failures.map((f) => `${f.exceptionName}: ${f.stacktrace}`);
    expect(texts.some((t) => t.startsWith("KAFKA_UNREACHABLE") && t.includes(`is a broker running at ${broker.address}?`))).toBe(true);
    expect(texts.filter((t) => t.includes("KAFKA_ERROR"))).toEqual([]);
    await broker.restart();
    await produceNumbers("restart-in", N / 2, N);
    const actual = await waitForOutput("restart-out", N, 120_000);
    await checkpointsAfterNow(cluster, jobId, 2);
    await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`);
    expect(actual.length).toBe(N);
    expect(await committedOutput("restart-out")).toEqual(expectedCounts(N));
  }, 240_000);

  it("a zombie TaskManager (cut off the broker mid-transaction, then paused while its job fails over) is fenced: its open transaction is aborted, and its late writes are refused", async () => {
    const N = 12_000;
    // A broker of its own behind a proxy, which can hold back one process's requests.
    const proxy = await KafkaProxy.start();
    const fenced = await TestKafkaBroker.start({ args: ["--advertised-port", String(proxy.port)], env: { RIFFLE_DEBUG: "kafka-broker" } });
    proxy.target(fenced.port);
    const address = `127.0.0.1:${proxy.port}`;
    const client = new Kafka({ brokers: [address], clientId: "e2e", logLevel: logLevel.NOTHING });
    await createTopic("zombie-in", 2, client);
    await createTopic("zombie-out", 2, client);
    await produceNumbers("zombie-in", 0, 2000, 2000, client);
    // Parallelism 1: the whole pipeline (source, count, sink) runs on one TaskManager.
    const jobId = await cluster.submit(JOB, {
      parallelism: 1,
      args: ["--brokers", address, "--in", "zombie-in", "--out", "zombie-out", "--prefix", "zombie", "--interval", "1000"],
    });
    let zombie: RiffleProcess | undefined;
    try {
      await cluster.waitForJob(jobId, allRunning);
      const producing = producePaced("zombie-in", 2000, N, client);
      await checkpointsAfterNow(cluster, jobId, 1);
      const job = await cluster.job(jobId);
      const tmId = (await cluster.vertex(jobId, job.vertices[job.vertices.length - 1]!.id)).subtasks[0]!["taskmanager-id"];
      zombie = cluster.taskmanagers.find((t) => !t.hasExited && t.logs.some((l) => l.msg === "TaskManager started" && l.taskmanagerId === tmId));
      if (!zombie) throw new Error(`no running TaskManager ${tmId}`);

      // Cut its writes off the broker until its sink has a write of its open transaction held back, then
      // pause it: the JobManager misses its heartbeats and restarts the job on another TaskManager,
      // whose sink aborts what the zombie left open by a new producer epoch of its transactional ids.
      const transactional: number[] = [KafkaApiKey.Produce, KafkaApiKey.AddPartitionsToTxn];
      proxy.hold(zombie.pid, transactional);
      const deadline = Date.now() + 30_000;
      while (!proxy.heldRequests().some((k) => transactional.includes(k))) {
        if (Date.now() > deadline) throw new Error(`the sink sent no transactional request within 30 s (held: ${proxy.heldRequests()})`);
        await new Promise((r) => setTimeout(r, 20));
      }
      zombie.kill("SIGSTOP");
      await cluster.waitForJob(jobId, (j) => j.numRestarts >= 1 && allRunning(j), 60_000);
      // All the input is counted once, and read_committed consumers see it: the zombie's transaction
      // no longer holds the last stable offset back.
      await producing;
      expect(await waitForOutput("zombie-out", N, 120_000, address)).toEqual(expectedCounts(N));
      // What the zombie wrote carries the header attempt=0 (its successor writes attempt=1).
      const fromZombie = async () =>
        (await readTopic("zombie-out", { isolation: "read_uncommitted", format: "%h", brokerAddress: address })).filter((h) => h === "attempt=0").length;
      const written = await fromZombie();

      // The partition heals: the zombie's held writes reach the broker, which refuses them (an older epoch).
      proxy.release();
      const refusal = await fenced.process.waitForLog(
        (l) => (l.msg === "produce refused" || l.msg === "AddPartitionsToTxn refused") && /INVALID_PRODUCER_EPOCH|PRODUCER_FENCED/.test(String(l.code)),
        30_000,
      );
      expect(refusal.msg === "produce refused" ? refusal.topic : refusal.transactionalId).toMatch(/^zombie-(out|0-\d+)$/);

      // Resumed, it finds it lost its JobManager and cancels its task; whatever it sends meanwhile is refused too.
      const resumedAt = zombie.logs.length;
      const sinceResumed = (l: LogLine) => zombie!.logs.indexOf(l) >= resumedAt;
      zombie.kill("SIGCONT");
      await zombie.waitForLog((l) => sinceResumed(l) && l.jobId === jobId && /^task (CANCELED|FAILED)/.test(l.msg), 60_000);
      await zombie.waitForLog((l) => sinceResumed(l) && l.msg === "TaskManager registered", 60_000);
      await produceNumbers("zombie-in", N, N + 2000, 2000, client);
      await waitForOutput("zombie-out", N + 2000, 120_000, address);
      await checkpointsAfterNow(cluster, jobId, 2);
      expect(await readTopic("zombie-out", { brokerAddress: address })).toEqual(expectedCounts(N + 2000));
      // Nothing of the zombie's reached the log after its successor took over, not even as aborted data.
      expect(await fromZombie()).toBe(written);
    } finally {
      proxy.release();
      zombie?.kill("SIGCONT");
      await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`);
      await proxy.stop();
      await fenced.stop();
    }
  }, 300_000);

  it("at-least-once sink, TaskManagers killed at seeded random moments: every count appears in the output at least once, and nothing else does", async () => {
    const N = 20_000;
    const seed = Number(process.env.RIFFLE_CHAOS_SEED ?? 20261207) + 1;
    const random = mulberry32(seed);
    await createTopic("alo-in", 4);
    await createTopic("alo-out", 3);
    await produceNumbers("alo-in", 0, N / 4);
    const jobId = await cluster.submit(JOB, {
      parallelism: 3,
      args: ["--brokers", broker.address, "--in", "alo-in", "--out", "alo-out", "--guarantee", "at-least-once", "--interval", "300"],
    });
    try {
      const producing = producePaced("alo-in", N / 4, N);
      await killTaskManagers(cluster, jobId, { kills: 3, random, minMs: 300, spanMs: 1500, beforeKill: () => checkpointsAfterNow(cluster, jobId, 1) });
      await producing;
      // Read as a plain consumer would (no transactions here): until every count has shown up.
      const expected = expectedCounts(N);
      const deadline = Date.now() + 120_000;
      let out = await readTopic("alo-out", { isolation: "read_uncommitted" });
      while (new Set(out).size < N) {
        if (Date.now() > deadline) throw new Error(`alo-out has ${new Set(out).size} distinct counts, not ${N}, after 120 s`);
        await new Promise((r) => setTimeout(r, 500));
        out = await readTopic("alo-out", { isolation: "read_uncommitted" });
      }
      expect((await cluster.job(jobId)).numRestarts).toBeGreaterThanOrEqual(3);
      // A restore replays what came after its checkpoint: those counts may come twice, with the same
      // values (the counts are restored with the offsets), so the distinct output is the exact one.
      expect(out.length).toBeGreaterThanOrEqual(N);
      expect([...new Set(out)].sort()).toEqual(expected);
    } finally {
      await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`);
    }
  }, 300_000);

  it("fewer partitions than subtasks, then partitions added while the job runs: discovery picks them up", async () => {
    await createTopic("grow-in", 1);
    await createTopic("grow-out", 2);
    await produceNumbers("grow-in", 0, 1000);
    const jobId = await cluster.submit(JOB, {
      parallelism: 3,
      args: ["--brokers", broker.address, "--in", "grow-in", "--out", "grow-out", "--interval", "300", "--discovery", "300"],
    });
    await waitForOutput("grow-out", 1000, 60_000);
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createPartitions({ topicPartitions: [{ topic: "grow-in", count: 4 }] });
    } finally {
      await admin.disconnect();
    }
    // Keyed by the number, so the new records land in every partition, the new ones included.
    await produceNumbers("grow-in", 1000, 3000);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: "grow-in", messages: [{ partition: 3, key: "3000", value: "3000" }], acks: -1 });
    await producer.disconnect();
    const actual = await waitForOutput("grow-out", 3001, 60_000);
    await checkpointsAfterNow(cluster, jobId, 2);
    await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`);
    expect(actual).toEqual(expectedCounts(3001));
    expect(await committedOutput("grow-out")).toEqual(expectedCounts(3001));
  }, 180_000);

  it("examples/order-totals.ts: event-time totals per customer, with half the partitions idle, equal a brute-force computation", async () => {
    // The README's steps in order: the generator creates the job's output topic too (its sink creates none).
    const generated = spawnSync(
      "node_modules/.bin/tsx",
      ["examples/order-totals/generate-orders.ts", "--brokers", broker.address, "--topic", "generated-orders", "--count", "5", "--rate", "50"],
      { encoding: "utf8", timeout: 60_000 },
    );
    expect(generated.status, generated.stderr).toBe(0);
    const listed = await kcat(["-L", "-b", broker.address, "-t", "order-totals"]);
    expect(listed.stdout).toContain('topic "order-totals" with 2 partitions');
    await createTopic("orders", 4);
    const BASE = 1_700_000_000_000;
    const N = 6000;
    // Orders 10 ms of event time apart, all in partitions 0 and 1: partitions 2 and 3 stay empty, so
    // without idleness every subtask's watermark would stay where it started.
    const orders = Array.from({ length: N }, (_, i) => ({ orderId: `o${i}`, customerId: `c-${i % 7}`, amount: 100 + (i % 13), orderTime: BASE + i * 10 }));
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < N; i += 1000) {
      await producer.send({
        topic: "orders",
        acks: -1,
        messages: orders.slice(i, i + 1000).map((o, j) => ({ partition: (i + j) % 2, key: o.customerId, value: JSON.stringify(o) })),
      });
    }
    await producer.disconnect();
    const jobId = await cluster.submit("examples/order-totals.ts", {
      parallelism: 2,
      args: ["--brokers", broker.address, "--window-seconds", "1", "--checkpoint-ms", "300", "--idle-ms", "500"],
    });
    // The watermark reaches the last order's time less 30 s of out-of-orderness: every window that ends by then fires.
    const lastWindowEnd = Math.floor((BASE + (N - 1) * 10 - 30_000) / 1000) * 1000;
    const expected = new Map<string, { orders: number; amount: number }>();
    for (const o of orders) {
      const start = Math.floor(o.orderTime / 1000) * 1000;
      if (start + 1000 > lastWindowEnd) continue;
      const k = `${o.customerId} ${start}`;
      const t = expected.get(k) ?? { orders: 0, amount: 0 };
      expected.set(k, { orders: t.orders + 1, amount: t.amount + o.amount });
    }
    const out = await waitForOutput("order-totals", expected.size, 90_000);
    await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`);
    const got = new Map(
      out.map((line) => {
        const t = JSON.parse(line) as { customerId: string; windowStart: number; orders: number; amount: number };
        return [`${t.customerId} ${t.windowStart}`, { orders: t.orders, amount: t.amount }];
      }),
    );
    expect(out.length).toBe(expected.size);
    expect(got).toEqual(expected);
  }, 180_000);

  it("a record that is not JSON fails the job naming topic, partition and offset; with skipInvalidRecords it goes to a side output", async () => {
    await createTopic("bad-in", 1);
    await createTopic("bad-out", 1);
    await createTopic("bad-invalid", 1);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: "bad-in", acks: -1, messages: [{ value: "1" }, { value: "{not json" }, { value: "2" }] });
    await producer.disconnect();

    const failing = await cluster.submit(JOB, {
      parallelism: 1,
      args: ["--brokers", broker.address, "--in", "bad-in", "--out", "bad-out", "--bounded", "true"],
    });
    const deadline = Date.now() + 60_000;
    let message = "";
    while (!message.includes("KAFKA_DESERIALIZATION_FAILED")) {
      if (Date.now() > deadline) throw new Error(`no deserialization failure reported: ${message}`);
      await new Promise((r) => setTimeout(r, 200));
      message = JSON.stringify((await cluster.rest("GET", `/jobs/${failing}/exceptions`)).body);
    }
    expect(message).toContain("the record at offset 1 of partition 0 of topic bad-in cannot be deserialized");
    await cluster.rest("PATCH", `/jobs/${failing}?mode=cancel`);

    const skipping = await cluster.submit(JOB, {
      parallelism: 1,
      args: ["--brokers", broker.address, "--in", "bad-in", "--out", "bad-out", "--bounded", "true", "--invalid", "bad-invalid"],
    });
    await cluster.waitForStatus(skipping, "FINISHED", 60_000);
    expect(await committedOutput("bad-out")).toEqual(["[1,1]", "[2,1]"]);
    const invalid = (await committedOutput("bad-invalid")).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(invalid).toEqual([
      expect.objectContaining({ topic: "bad-in", partition: 0, offset: 1, value: "{not json", error: expect.stringContaining("JSON") }),
    ]);
  }, 120_000);

  it("no broker at the address: the job restarts with back-off on KAFKA_UNREACHABLE naming the address while another job runs on; once a broker is there, every record is counted once", async () => {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const other = await cluster.submit("e2e/jobs/unbounded.ts", { parallelism: 1, args: ["--rate", "500"] });
    const jobId = await cluster.submit(JOB, {
      parallelism: 1,
      args: ["--brokers", address, "--in", "late-in", "--out", "late-out", "--interval", "300", "--backoff", "true"],
    });
    let late: TestKafkaBroker | undefined;
    try {
      // Two failures, each naming the address, with a restart after each.
      const deadline = Date.now() + 120_000;
      let failures: JobExceptions["exceptionHistory"]["entries"] = [];
      while (failures.length < 2) {
        if (Date.now() > deadline) throw new Error(`not two KAFKA_UNREACHABLE failures within 120 s: ${JSON.stringify(failures)}`);
        await new Promise((r) => setTimeout(r, 500));
        const exceptions = (await cluster.rest<JobExceptions>("GET", `/jobs/${jobId}/exceptions`)).body;
        failures = exceptions.exceptionHistory.entries;
      }
      for (const f of failures) {
        expect(f.exceptionName).toBe("KAFKA_UNREACHABLE");
        expect(f.stacktrace).toContain(`is a broker running at ${address}?`);
      }
      expect((await cluster.job(jobId)).numRestarts).toBeGreaterThanOrEqual(1);
      // The other job did not notice.
      const before = (await cluster.job(other)).vertices[1]!.metrics["read-records"];
      const running = await cluster.waitForJob(other, (j) => j.state === "RUNNING" && j.vertices[1]!.metrics["read-records"] > before, 30_000);
      expect(running.numRestarts).toBe(0);

      // A broker comes up at the address: the next attempt reads everything, once.
      late = await TestKafkaBroker.start({ port });
      const client = new Kafka({ brokers: [address], clientId: "e2e", logLevel: logLevel.NOTHING });
      await createTopic("late-in", 2, client);
      await createTopic("late-out", 2, client);
      await produceNumbers("late-in", 0, 3000, 1000, client);
      expect(await waitForOutput("late-out", 3000, 120_000, address)).toEqual(expectedCounts(3000));
      await checkpointsAfterNow(cluster, jobId, 2);
      expect(await readTopic("late-out", { brokerAddress: address })).toEqual(expectedCounts(3000));
    } finally {
      await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`);
      await cluster.rest("PATCH", `/jobs/${other}?mode=cancel`);
      await late?.stop();
    }
  }, 240_000);
});
