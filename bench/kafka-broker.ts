/**
 * The Kafka test broker's own throughput, so that the Kafka connector benchmarks to come can tell
 * what limits what. The broker runs as a process (the e2e harness's TestKafkaBroker, fsync on, as
 * tests and demos run it); records are 100-byte values, 1000 to a produce request, over 3 partitions.
 *
 * - Broker ingest: Produce v3 requests encoded once with kafkajs's own encoder, replayed over one
 *   connection with 8 in flight, acks=all (each answered after fsync). No client cost: this is what
 *   the broker itself can take. Baseline: the same request bytes sent the same way to a raw TCP
 *   server in another process that only reads the frames and acknowledges them
 *   (bench/baselines/raw-tcp-sink.ts).
 * - kafkajs producer → broker → kafkajs consumer, running at the same time: records / (last record
 *   consumed − first send). Baseline: the broker ingest above, measured in the same run.
 * - kafkajs producer alone (acks=all), against kafkajs encoding the same requests with no I/O at all
 *   (a ratio near 1: the producer is bound by its own encoding, not by the broker).
 * - kafkajs consumer alone (reading those records from the start), against the broker ingest.
 */
import { createRequire } from "node:module";
import { Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { Kafka, logLevel } from "kafkajs";
import { TestKafkaBroker } from "../e2e/harness/index.js";
import { BaselineProcess } from "./baselines/child.js";
import type { Benchmark, BenchmarkContext, Measured } from "./benchmark.js";
import { median } from "./stats.js";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

const RECORD_BYTES = 100;
const RECORDS_PER_REQUEST = 1000;
const PARTITIONS = 3;
const IN_FLIGHT = 8;

const require = createRequire(import.meta.url);
type Encoded = { buffer: Buffer };
const encodeRequest = require("kafkajs/src/protocol/request.js") as (r: { correlationId: number; clientId: string; request: unknown }) => Promise<Encoded>;
const produceV3 = require("kafkajs/src/protocol/requests/produce/v3/request.js") as (r: object) => unknown;
const produceV7 = require("kafkajs/src/protocol/requests/produce/v7/request.js") as (r: object) => unknown;

const value = (i: number) => `${String(i).padStart(12, "0")}${"x".repeat(RECORD_BYTES - 12)}`;

/** One Produce v3 request (acks=all) of RECORDS_PER_REQUEST records spread over the partitions, by kafkajs's encoder. */
async function produceRequest(topic: string): Promise<Buffer> {
  const partitions = Array.from({ length: PARTITIONS }, (_, partition) => ({
    partition,
    firstSequence: 0,
    // 334 + 333 + 333: exactly RECORDS_PER_REQUEST records.
    messages: Array.from({ length: Math.floor(RECORDS_PER_REQUEST / PARTITIONS) + (partition < RECORDS_PER_REQUEST % PARTITIONS ? 1 : 0) }, (_, i) => ({
      value: value(i),
      timestamp: Date.now(),
    })),
  }));
  const request = produceV3({ acks: -1, timeout: 30_000, topicData: [{ topic, partitions }] });
  return (await encodeRequest({ correlationId: 1, clientId: "bench", request })).buffer;
}

/**
 * kafkajs's own encoding of the producer's requests (Produce v7, what it sends to this broker), with no
 * I/O: the cost a kafkajs producer pays per record whatever the broker. Records per second.
 */
async function kafkajsEncodeOnly(records: number): Promise<number> {
  const started = performance.now();
  for (let from = 0; from < records; from += RECORDS_PER_REQUEST) {
    const partitions = Array.from({ length: PARTITIONS }, (_, partition) => ({
      partition,
      firstSequence: 0,
      messages: [] as Array<{ value: string; timestamp: number }>,
    }));
    for (let i = from; i < Math.min(records, from + RECORDS_PER_REQUEST); i++)
      partitions[i % PARTITIONS]!.messages.push({ value: value(i), timestamp: Date.now() });
    await encodeRequest({ correlationId: 1, clientId: "bench", request: produceV7({ acks: -1, timeout: 30_000, topicData: [{ topic: "t", partitions }] }) });
  }
  return records / ((performance.now() - started) / 1000);
}

/** Sends `request` `count` times on one connection, keeping IN_FLIGHT unanswered; seconds until the last answer. */
function replay(port: number, request: Buffer, count: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let sent = 0;
    let answered = 0;
    let pending: Buffer = Buffer.alloc(0);
    let started = 0;
    const send = () => {
      while (sent < count && sent - answered < IN_FLIGHT) {
        socket.write(request);
        sent++;
      }
    };
    socket.on("data", (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        pending = pending.subarray(4 + pending.readInt32BE(0));
        answered++;
      }
      if (answered === count) {
        const seconds = (performance.now() - started) / 1000;
        socket.destroy();
        resolve(seconds);
      } else send();
    });
    socket.on("error", reject);
    socket.on("close", () => answered < count && reject(new Error(`connection closed after ${answered} of ${count} answers`)));
    socket.setNoDelay(true);
    socket.connect(port, "127.0.0.1", () => {
      started = performance.now();
      send();
    });
  });
}

function client(broker: TestKafkaBroker): Kafka {
  return new Kafka({ brokers: [broker.address], clientId: "bench", logLevel: logLevel.NOTHING });
}

async function createTopic(kafka: Kafka, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] });
  await admin.disconnect();
}

/** kafkajs producer sends of RECORDS_PER_REQUEST records, IN_FLIGHT at a time; resolves with seconds. */
async function kafkajsProduce(kafka: Kafka, topic: string, records: number): Promise<number> {
  const producer = kafka.producer();
  await producer.connect();
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < records) {
      const from = next;
      next += RECORDS_PER_REQUEST;
      const messages = Array.from({ length: Math.min(RECORDS_PER_REQUEST, records - from) }, (_, i) => ({
        partition: (from + i) % PARTITIONS,
        value: value(from + i),
      }));
      await producer.send({ topic, acks: -1, messages });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const seconds = (performance.now() - started) / 1000;
  await producer.disconnect();
  return seconds;
}

/** A kafkajs group consumer reading the topic from the start; `ready` resolves once it has its partitions. */
async function kafkajsConsumer(kafka: Kafka, topic: string, records: number) {
  const consumer = kafka.consumer({ groupId: `bench-${topic}`, maxWaitTimeInMs: 100 });
  let count = 0;
  let finishedAt = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const ready = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      count += batch.messages.length;
      if (count >= records && finishedAt === 0) {
        finishedAt = performance.now();
        done();
      }
    },
  });
  return {
    ready,
    /** Resolves with the time the last record arrived (performance.now()). */
    async finished(timeoutMs = 300_000): Promise<number> {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        finished,
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`consumed ${count} of ${records} records`)), timeoutMs))),
      ]);
      clearTimeout(timer);
      if (count !== records) throw new Error(`consumed ${count} records, ${records} were produced`);
      await consumer.disconnect();
      return finishedAt;
    },
  };
}

/** The broker's high watermarks must add up to what was sent: a benchmark that lost records measures nothing. */
async function checkStored(kafka: Kafka, topic: string, expected: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const stored = offsets.reduce((n, p) => n + Number(p.high), 0);
  if (stored !== expected) throw new Error(`${topic} holds ${stored} records, ${expected} were acknowledged`);
}

const mbPerSecond = (records: number, seconds: number) => +((records * RECORD_BYTES) / seconds / 1e6).toFixed(1);

export const kafkaBroker: Benchmark = {
  name: "kafka-broker",
  results: "kafka",
  async run(ctx: BenchmarkContext): Promise<Measured[]> {
    // The broker alone takes a million records in seconds; kafkajs is slower, and gets fewer.
    const requests = ctx.quick ? 100 : 1000;
    const ingestRecords = requests * RECORDS_PER_REQUEST;
    const records = ctx.quick ? 50_000 : 300_000;
    const broker = await TestKafkaBroker.start();
    const sink = new BaselineProcess(fileURLToPath(new URL("./baselines/raw-tcp-sink.ts", import.meta.url)), []);
    try {
      const { port: sinkPort } = await sink.report<{ port: number }>("PORT");
      const kafka = client(broker);
      // Warm-up: both servers' and this process's code paths get compiled before anything is timed.
      await createTopic(kafka, "warm-up");
      const warmUp = await produceRequest("warm-up");
      await replay(broker.port, warmUp, 200);
      await replay(sinkPort, warmUp, 200);
      await kafkajsProduce(kafka, "warm-up", 20_000);
      const samples = {
        ingest: [] as number[],
        raw: [] as number[],
        pipeline: [] as number[],
        produce: [] as number[],
        encode: [] as number[],
        consume: [] as number[],
      };
      for (let run = 0; run < ctx.runs; run++) {
        const ingestTopic = `ingest-${run}`;
        await createTopic(kafka, ingestTopic);
        const request = await produceRequest(ingestTopic);
        const ingestSeconds = await replay(broker.port, request, requests);
        const rawSeconds = await replay(sinkPort, request, requests);
        await checkStored(kafka, ingestTopic, ingestRecords);

        const pipelineTopic = `pipeline-${run}`;
        await createTopic(kafka, pipelineTopic);
        const consumer = await kafkajsConsumer(kafka, pipelineTopic, records);
        await consumer.ready;
        const started = performance.now();
        await kafkajsProduce(kafka, pipelineTopic, records);
        const pipelineSeconds = ((await consumer.finished()) - started) / 1000;

        const produceTopic = `produce-${run}`;
        await createTopic(kafka, produceTopic);
        const produceSeconds = await kafkajsProduce(kafka, produceTopic, records);
        const encodeRate = await kafkajsEncodeOnly(ctx.quick ? 10_000 : 50_000);
        const reader = await kafkajsConsumer(kafka, produceTopic, records);
        await reader.ready;
        const readFrom = performance.now();
        const consumeSeconds = ((await reader.finished()) - readFrom) / 1000;

        samples.ingest.push(ingestRecords / ingestSeconds);
        samples.raw.push(ingestRecords / rawSeconds);
        samples.pipeline.push(records / pipelineSeconds);
        samples.produce.push(records / produceSeconds);
        samples.encode.push(encodeRate);
        samples.consume.push(records / consumeSeconds);
        ctx.log(
          `run ${run + 1}: broker ingest ${Math.round(ingestRecords / ingestSeconds)} rec/s (${mbPerSecond(ingestRecords, ingestSeconds)} MB/s), raw TCP ${Math.round(ingestRecords / rawSeconds)} rec/s (${mbPerSecond(ingestRecords, rawSeconds)} MB/s); ` +
            `kafkajs end to end ${Math.round(records / pipelineSeconds)} rec/s, produce ${Math.round(records / produceSeconds)} rec/s (its encoding alone ${Math.round(encodeRate)} rec/s), consume ${Math.round(records / consumeSeconds)} rec/s`,
        );
      }
      const parameters = (recPerSecond: number, n: number) => ({
        records: n,
        recordBytes: RECORD_BYTES,
        recordsPerRequest: RECORDS_PER_REQUEST,
        partitions: PARTITIONS,
        inFlight: IN_FLIGHT,
        fsync: true,
        "MB/s": +((recPerSecond * RECORD_BYTES) / 1e6).toFixed(1),
        runs: ctx.runs,
      });
      const row = (metric: string, title: string, values: number[], baseline: { name: string; values: number[] }, n = records): Measured => ({
        benchmark: "kafka-broker",
        metric,
        title,
        value: median(values),
        unit: "rec/s",
        baseline: { name: baseline.name, value: median(baseline.values) },
        better: "higher",
        parameters: parameters(median(values), n),
        samples: { value: values, baseline: baseline.values },
      });
      const ingestBaseline = { name: "broker ingest", values: samples.ingest };
      return [
        row(
          "ingest",
          "Kafka test broker ingest: pre-encoded Produce requests, acks=all (fsync), one connection",
          samples.ingest,
          { name: "raw TCP loopback, same bytes", values: samples.raw },
          ingestRecords,
        ),
        row("kafkajs end to end", "kafkajs producer → broker → kafkajs consumer, at the same time", samples.pipeline, ingestBaseline),
        row("kafkajs produce", "kafkajs producer alone (acks=all)", samples.produce, { name: "kafkajs encoding its requests, no I/O", values: samples.encode }),
        row("kafkajs consume", "kafkajs consumer alone (from the start)", samples.consume, ingestBaseline),
      ];
    } finally {
      await sink.stop();
      await broker.stop();
    }
  },
};
