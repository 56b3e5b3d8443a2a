/**
 * Baseline of the keyed shuffle: the same records, encoded by the same codec into ~32 KiB batches,
 * streamed over one gRPC stream from a producer process to a consumer process that decodes them and
 * counts per key in a Map. It is what a keyed shuffle costs on two cores with nothing around it: no
 * operators, no hashing to key groups, no credits, no framing beyond the bytes.
 *
 * Roles mirror Riffle's data exchange: the consumer is the gRPC client (Riffle's receiving channel
 * opens the stream) with rpc.CHANNEL_OPTIONS (16 MiB HTTP/2 window), the producer is the server,
 * bound with rpc.bindServer, which raises the server's session window the same way.
 *
 *   node --import tsx bench/baselines/raw-grpc.ts producer                 (prints `READY {"port":…}`)
 *   node --import tsx bench/baselines/raw-grpc.ts consumer <address> <records> <warmup records>
 */
import { once } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { decodeBatch, encodeBatch, rpc } from "@riffle/shared";
import { KEYS, keyed, type Keyed } from "../jobs/records.js";
import { BaselineProcess, isMain, reportToParent } from "./child.js";

/** Riffle's default buffer size (taskmanager.memory.segment-size). */
const BUFFER_SIZE = 32 * 1024;
const PATH = "/riffle.bench.RawShuffle/Stream";

// Raw bytes both ways: the request is the record count as text, each response one encoded batch.
const identity = (b: Buffer): Buffer => b;
const SERVICE: grpc.ServiceDefinition = {
  stream: {
    path: PATH,
    requestStream: false,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

export interface RawGrpcResult {
  records: number;
  batches: number;
  bytes: number;
  /** Distinct keys counted: checks that the consumer saw every key. */
  keys: number;
  seconds: number;
  recordsPerSecond: number;
}

/**
 * Generates records 0..count-1 and writes them in batches of about BUFFER_SIZE bytes, sizing batches
 * the way Riffle's RecordWriter does (records per batch from a moving average of encoded bytes per
 * record), and waiting for 'drain' whenever the stream's buffer is full.
 */
async function produce(call: grpc.ServerWritableStream<Buffer, Buffer>, count: number): Promise<void> {
  let target = 256;
  let bytesPerRecord = 0;
  let pending: Keyed[] = [];
  const send = async (): Promise<void> => {
    const data = encodeBatch(pending);
    const perRecord = data.length / pending.length;
    bytesPerRecord = bytesPerRecord === 0 ? perRecord : bytesPerRecord * 0.8 + perRecord * 0.2;
    target = Math.max(1, Math.min(8192, Math.floor(BUFFER_SIZE / bytesPerRecord)));
    pending = [];
    if (!call.write(data)) await once(call, "drain");
  };
  for (let i = 0; i < count; i++) {
    pending.push(keyed(i));
    if (pending.length >= target) await send();
  }
  if (pending.length > 0) await send();
  call.end();
}

async function runProducer(): Promise<void> {
  const server = rpc.createServer();
  server.addService(SERVICE, {
    stream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      produce(call, Number(call.request.toString())).catch((err: unknown) => call.destroy(err as Error));
    },
  });
  const port = await rpc.bindServer(server, "127.0.0.1", 0);
  reportToParent("READY", { port });
}

/** Requests `count` records and counts them per key; the time runs from the request to the last record counted. */
function consume(client: grpc.Client, count: number): Promise<RawGrpcResult> {
  return new Promise((resolve, reject) => {
    const counts = new Map<string, number>();
    let records = 0;
    let batches = 0;
    let bytes = 0;
    const start = performance.now();
    const call = client.makeServerStreamRequest(PATH, identity, identity, Buffer.from(String(count)));
    call.on("data", (data: Buffer) => {
      batches++;
      bytes += data.length;
      const batch = decodeBatch(data) as Keyed[];
      for (let i = 0; i < batch.length; i++) {
        const r = batch[i]!;
        counts.set(r.key, (counts.get(r.key) ?? 0) + r.n);
      }
      records += batch.length;
    });
    call.on("error", reject);
    call.on("end", () => {
      const seconds = (performance.now() - start) / 1000;
      if (records !== count) reject(new Error(`consumer counted ${records} of ${count} records`));
      else resolve({ records, batches, bytes, keys: counts.size, seconds, recordsPerSecond: records / seconds });
    });
  });
}

async function runConsumer(address: string, count: number, warmup: number): Promise<void> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), rpc.CHANNEL_OPTIONS);
  // Riffle is timed after a warm-up job on the same TaskManagers; this pair gets a warm-up stream.
  if (warmup > 0) await consume(client, warmup);
  reportToParent("RESULT", await consume(client, count));
  client.close();
}

/**
 * Starts a producer and a consumer process and streams `records` records between them. Both run with
 * the V8 flags a TaskManager sets for itself by default (decision 0019), so the two sides of the
 * comparison collect garbage alike.
 */
export async function measureRawGrpc(records: number, warmupRecords: number): Promise<RawGrpcResult> {
  const script = new URL(import.meta.url).pathname;
  // Imported here, not at the top: the producer and consumer processes run this file too and need none of it.
  const { taskManagerV8Flags } = await import("@riffle/taskmanager");
  const flags = taskManagerV8Flags({ parallelScavenge: false });
  const producer = new BaselineProcess(script, ["producer"], flags);
  try {
    const { port } = await producer.report<{ port: number }>("READY", 30_000);
    const consumer = new BaselineProcess(script, ["consumer", `127.0.0.1:${port}`, String(records), String(warmupRecords)], flags);
    try {
      const result = await consumer.report<RawGrpcResult>("RESULT");
      if (result.keys !== Math.min(KEYS, records)) throw new Error(`raw gRPC consumer counted ${result.keys} keys, expected ${KEYS}`);
      return result;
    } finally {
      await consumer.stop();
    }
  } finally {
    await producer.stop();
  }
}

if (isMain(import.meta.url)) {
  const [role, ...args] = process.argv.slice(2);
  if (role === "producer") await runProducer();
  else if (role === "consumer") await runConsumer(args[0]!, Number(args[1]), Number(args[2] ?? 0));
  else throw new Error(`usage: raw-grpc.ts producer | consumer <address> <records> <warmup records>; got ${role}`);
}
