/**
 * The Kafka connectors against the Kafka test broker (a process, fsync on), each row beside a raw
 * kafkajs loop measured in the same run:
 *
 * - Kafka → map → Kafka throughput at parallelism 1 and 2, at-least-once and exactly-once (1 s
 *   checkpoints): a bounded KafkaSource reads a topic of 100-byte records (4 partitions), upper-cases
 *   them and a KafkaSink writes them; records / the job's RUNNING → FINISHED time (which includes the
 *   readers' start and partition discovery). Baseline: a kafkajs consumer → map → kafkajs producer
 *   loop at the same parallelism (`partitionsConsumedConcurrently` = p) over the same records, its
 *   sends pipelined as the sink's are (acks=all; a batch waits only while 4 sends per parallel
 *   partition are unacknowledged), records / (last send acknowledged − first batch fetched). The
 *   issue's aims: ≥ 0.7 of raw at-least-once, ≥ 0.5 exactly-once.
 * - End-to-end latency through Kafka at 1 s checkpoints: records produced at a steady rate carry their
 *   send time; a read_committed kafkajs consumer of the job's output measures now − send time, p50 and
 *   p99 (exactly-once output becomes visible when the checkpoint after it completes, so about half an
 *   interval plus the checkpoint's duration is expected). Baseline: the raw loop at the same rate and
 *   parallelism (2). Every sample is stored in the results, the latency rows' too.
 */
import { Kafka, logLevel } from "kafkajs";
import { TestKafkaBroker } from "../e2e/harness/index.js";
import type { Benchmark, BenchmarkContext, Measured } from "./benchmark.js";
import { benchJob, cancelJob, pollJob, startCluster, type TestCluster } from "./riffle.js";
import { median, quantile } from "./stats.js";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

const PARTITIONS = 4;
const RECORD_BYTES = 100;
const value = (i: number) => `${String(i).padStart(12, "0")}${"x".repeat(RECORD_BYTES - 12)}`;

function client(broker: TestKafkaBroker): Kafka {
  return new Kafka({ brokers: [broker.address], clientId: "bench", logLevel: logLevel.NOTHING });
}

async function createTopics(kafka: Kafka, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: PARTITIONS })), waitForLeaders: true });
  await admin.disconnect();
}

async function fill(kafka: Kafka, topic: string, records: number): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  for (let from = 0; from < records; from += 5000) {
    const messages = Array.from({ length: Math.min(5000, records - from) }, (_, i) => ({ partition: (from + i) % PARTITIONS, value: value(from + i) }));
    await producer.send({ topic, acks: -1, messages });
  }
  await producer.disconnect();
}

/** Unacknowledged sends the raw loop allows per parallel partition before a batch waits (the sink queues 4 batches behind the one in flight). */
const RAW_SENDS_IN_FLIGHT = 4;

/**
 * The raw loop: a kafkajs group consumer from the start of `input` handling `parallelism` partitions
 * at a time, each batch upper-cased and sent to `output` (acks=all) without waiting for the broker
 * unless `RAW_SENDS_IN_FLIGHT` × parallelism sends are unacknowledged; resolves with records per
 * second once `records` were acknowledged.
 */
async function rawLoop(kafka: Kafka, input: string, output: string, records: number, parallelism: number, onRecord?: (v: string) => void): Promise<number> {
  const consumer = kafka.consumer({ groupId: `raw-${output}`, maxWaitTimeInMs: 100 });
  const producer = kafka.producer();
  await Promise.all([consumer.connect(), producer.connect()]);
  await consumer.subscribe({ topic: input, fromBeginning: true });
  let acked = 0;
  let first = 0;
  let done!: (rate: number) => void;
  let fail!: (err: unknown) => void;
  const finished = new Promise<number>((resolve, reject) => {
    done = resolve;
    fail = reject;
  });
  const inFlight = new Set<Promise<void>>();
  await consumer.run({
    partitionsConsumedConcurrently: parallelism,
    eachBatch: async ({ batch }) => {
      if (first === 0) first = performance.now();
      const messages = batch.messages.map((m) => ({ partition: batch.partition, value: m.value!.toString().toUpperCase() }));
      while (inFlight.size >= RAW_SENDS_IN_FLIGHT * parallelism) await Promise.race(inFlight);
      const send: Promise<void> = producer
        .send({ topic: output, acks: -1, messages })
        .then(() => {
          for (const m of messages) onRecord?.(m.value);
          acked += messages.length;
          if (acked >= records) done(records / ((performance.now() - first) / 1000));
        }, fail)
        .finally(() => inFlight.delete(send));
      inFlight.add(send);
    },
  });
  try {
    return await finished;
  } finally {
    await Promise.all([consumer.disconnect(), producer.disconnect()]);
  }
}

/** The bounded Riffle job over `input`: records per second of its RUNNING → FINISHED time. */
async function riffleRun(
  cluster: TestCluster,
  broker: TestKafkaBroker,
  input: string,
  output: string,
  guarantee: string,
  parallelism: number,
  records: number,
): Promise<number> {
  const jobId = await cluster.submit(benchJob("kafka-map"), {
    parallelism,
    args: ["--brokers", broker.address, "--in", input, "--out", output, "--guarantee", guarantee, "--interval", "1000"],
  });
  const job = await pollJob(cluster, jobId, (j) => j.state === "FINISHED", { everyMs: 100, timeoutMs: 300_000 });
  const ts = job.timestamps as Record<string, number>;
  return records / ((ts.FINISHED! - ts.RUNNING!) / 1000);
}

/** Latency samples (ms) of `records` produced at `rate`/s through `pipeline`, read by a read_committed consumer of `output`. */
async function latencyRun(
  kafka: Kafka,
  input: string,
  output: string,
  rate: number,
  seconds: number,
  pipeline: () => Promise<() => Promise<void>>,
): Promise<number[]> {
  const stop = await pipeline();
  const consumer = kafka.consumer({ groupId: `latency-${output}`, maxWaitTimeInMs: 50, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic: output, fromBeginning: true });
  const samples: number[] = [];
  const total = rate * seconds;
  let done!: () => void;
  const all = new Promise<void>((resolve) => {
    done = resolve;
  });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const now = Date.now();
      for (const m of batch.messages) samples.push(now - Number(m.value!.toString().slice(0, 13)));
      if (samples.length >= total) done();
    },
  });
  const producer = kafka.producer();
  await producer.connect();
  const started = Date.now();
  for (let sent = 0; sent < total; ) {
    const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * rate) + 1);
    if (due > sent) {
      const messages = Array.from({ length: due - sent }, (_, i) => ({
        partition: (sent + i) % PARTITIONS,
        value: `${Date.now()}`.padStart(13, "0") + "x".repeat(RECORD_BYTES - 13),
      }));
      await producer.send({ topic: input, acks: -1, messages });
      sent = due;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await producer.disconnect();
  await all;
  await consumer.disconnect();
  await stop();
  return samples;
}

export const kafkaConnectors: Benchmark = {
  name: "kafka-connectors",
  results: "kafka",
  async run(ctx: BenchmarkContext): Promise<Measured[]> {
    const records = ctx.quick ? 20_000 : 200_000;
    const broker = await TestKafkaBroker.start();
    const kafka = client(broker);
    const cluster = await startCluster({ taskmanagers: 2 }, ctx.profileDir && `${ctx.profileDir}/kafka-connectors`);
    const out: Measured[] = [];
    let topicNo = 0;
    const fresh = async (n: number) => {
      const input = `in-${topicNo}`;
      const output = `out-${topicNo++}`;
      await createTopics(kafka, [input, output]);
      if (n > 0) await fill(kafka, input, n);
      return { input, output };
    };
    try {
      const rows: Array<{ guarantee: string; p: number; riffle: number[]; raw: number[] }> = [];
      for (const guarantee of ["at-least-once", "exactly-once"]) for (const p of [1, 2]) rows.push({ guarantee, p, riffle: [], raw: [] });
      for (let run = 0; run < ctx.runs; run++) {
        for (const row of rows) {
          const a = await fresh(records);
          row.riffle.push(await riffleRun(cluster, broker, a.input, a.output, row.guarantee, row.p, records));
          const b = await fresh(records);
          row.raw.push(await rawLoop(kafka, b.input, b.output, records, row.p));
          ctx.log(
            `run ${run + 1} ${row.guarantee} p=${row.p}: Riffle ${Math.round(row.riffle.at(-1)!)} rec/s, raw kafkajs loop ${Math.round(row.raw.at(-1)!)} rec/s`,
          );
        }
      }
      for (const row of rows) {
        out.push({
          benchmark: "kafka-connectors",
          metric: `throughput ${row.guarantee} p=${row.p}`,
          title: `Kafka → map → Kafka, ${row.guarantee}${row.guarantee === "exactly-once" ? " (1 s checkpoints)" : ""}, p=${row.p}`,
          value: median(row.riffle),
          unit: "rec/s",
          baseline: { name: `raw kafkajs consume→produce loop, ${row.p} partition(s) at a time, pipelined sends`, value: median(row.raw) },
          better: "higher",
          aim: { min: row.guarantee === "exactly-once" ? 0.5 : 0.7 },
          parameters: { records, partitions: PARTITIONS, recordBytes: RECORD_BYTES, parallelism: row.p, runs: ctx.runs },
          samples: { value: row.riffle, baseline: row.raw },
        });
      }

      // Latency at a steady rate: the Riffle job (unbounded, exactly-once, 1 s checkpoints) and the raw loop.
      const rate = ctx.quick ? 500 : 2000;
      const seconds = ctx.quick ? 5 : 15;
      const l1 = await fresh(0);
      const riffleSamples = await latencyRun(kafka, l1.input, l1.output, rate, seconds, async () => {
        const jobId = await cluster.submit(benchJob("kafka-map"), {
          parallelism: 2,
          args: ["--brokers", broker.address, "--in", l1.input, "--out", l1.output, "--guarantee", "exactly-once", "--interval", "1000", "--bounded", "false"],
        });
        await pollJob(cluster, jobId, (j) => j.state === "RUNNING" && j.vertices.every((v) => v.status === "RUNNING"), { timeoutMs: 60_000 });
        return () => cancelJob(cluster, jobId);
      });
      const l2 = await fresh(0);
      const rawSamples = await latencyRun(kafka, l2.input, l2.output, rate, seconds, async () => {
        const loop = rawLoop(kafka, l2.input, l2.output, rate * seconds, 2);
        return async () => {
          await loop;
        };
      });
      const sortedR = [...riffleSamples].sort((a, b) => a - b);
      const sortedB = [...rawSamples].sort((a, b) => a - b);
      ctx.log(
        `latency: Riffle p50 ${quantile(sortedR, 0.5)} ms p99 ${quantile(sortedR, 0.99)} ms; raw p50 ${quantile(sortedB, 0.5)} ms p99 ${quantile(sortedB, 0.99)} ms`,
      );
      for (const [q, name] of [
        [0.5, "p50"],
        [0.99, "p99"],
      ] as const) {
        out.push({
          benchmark: "kafka-connectors",
          metric: `latency ${name}`,
          title: `End-to-end latency through Kafka, exactly-once, 1 s checkpoints, ${name}`,
          value: quantile(sortedR, q),
          unit: "ms",
          baseline: { name: "raw kafkajs loop (no transactions)", value: quantile(sortedB, q) },
          better: "lower",
          parameters: { rate, seconds, parallelism: 2, checkpointMs: 1000 },
          // Every latency sample of the run (ms), in arrival order: the quantiles above are of these.
          samples: { value: riffleSamples, baseline: rawSamples },
        });
      }
      return out;
    } finally {
      await cluster.stop();
      await broker.stop();
    }
  },
};
