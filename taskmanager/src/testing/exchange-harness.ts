import type * as grpc from "@grpc/grpc-js";
import { createLogger, rpc, type ExchangeRequest, type ExchangeResponse, type LocateRequest, type LocateResponse, type Partitioner } from "@riffle/shared";
import { NetworkBufferPool } from "../network/buffer-pool.js";
import { serveExchange } from "../network/exchange-server.js";
import { DataConnections, overGrpcCall } from "../network/grpc-stream.js";
import { InputGate } from "../network/input-gate.js";
import { PartitionManager } from "../network/partition-manager.js";
import { RecordWriter } from "../network/record-writer.js";
import { RemoteInputChannel } from "../network/remote-channel.js";
import type { ResultPartition } from "../network/result-partition.js";

/** The segment size of the harness's pools (Riffle's default). */
export const SEGMENT_SIZE = 32 * 1024;

/**
 * Two TaskManagers' network stacks in one process, over real gRPC, through the same pieces a cluster
 * uses: on the producer side a slot's data server (serving its partitions) and the TaskManager's
 * PartitionLocation service (answering which port serves a partition: here the same server), on the
 * consumer side a slot's gate and remote channels, whose streams DataConnections opens. Separate
 * segment pools. Everything created is closed by `cleanUp()` (call it after each test).
 */
export class ExchangeHarness {
  private readonly cleanups: Array<() => void | Promise<void>> = [];
  private readonly log = createLogger("test");

  constructor() {
    this.log.level = "silent";
  }

  /**
   * `requestTimeoutMs`: how long a Locate waits for the partition (the TaskManager's
   * taskmanager.network.partition-request.timeout). `stop()` takes the server down at once, as a
   * producer's worker that is terminated or crashes.
   */
  async producerSide(segments: number, requestTimeoutMs = 5000) {
    const pool = new NetworkBufferPool(segments, SEGMENT_SIZE);
    const partitions = new PartitionManager();
    // As a slot's data server: no keepalive pings (decision 0018).
    const server = rpc.createServer({ keepalive: false });
    let port = 0;
    rpc.addService(server, "DataExchange", {
      Exchange: (call: grpc.ServerDuplexStream<ExchangeRequest, ExchangeResponse>) =>
        serveExchange(overGrpcCall(call), partitions, 5000, SEGMENT_SIZE, this.log),
    });
    rpc.addService(server, "PartitionLocation", {
      Locate: rpc.handleUnary<LocateRequest, LocateResponse>(async (req) => {
        await partitions.waitFor(req.partitionId, requestTimeoutMs);
        return { port };
      }),
    });
    port = await rpc.bindServer(server, "127.0.0.1", 0);
    this.cleanups.push(() => server.forceShutdown());
    return { pool, partitions, address: `127.0.0.1:${port}`, stop: () => server.forceShutdown() };
  }

  consumerSide(segments: number, floating: number) {
    const pool = new NetworkBufferPool(segments, SEGMENT_SIZE);
    const connections = new DataConnections(5000);
    const gate = new InputGate(0, pool, floating);
    this.cleanups.push(() => {
      gate.close();
      connections.close();
    });
    const failures: Error[] = [];
    const owner = {
      notifyChannelNonEmpty: (c: Parameters<InputGate["notifyChannelNonEmpty"]>[0]) => gate.notifyChannelNonEmpty(c),
      notifyChannelFailed: (_c: unknown, e: Error) => failures.push(e),
    };
    const channel = (index: number, address: string, partitionId: string, subpartition: number) => {
      pool.requestExclusive(2, "test channel");
      const ch = new RemoteInputChannel(index, `sub ${subpartition}`, owner, gate, 2, (n) => pool.recycle(n));
      gate.addChannel(ch);
      ch.open(connections.open(address, partitionId), partitionId, subpartition, "test");
      return ch;
    };
    return { pool, gate, channel, failures };
  }

  async cleanUp(): Promise<void> {
    while (this.cleanups.length) await this.cleanups.pop()!();
  }
}

/** A record writer for tests. */
export function writerOf(partition: ResultPartition, partitioner: Partitioner = "forward", maxBuffersPerSubpartition = 100): RecordWriter {
  return new RecordWriter(partition, { partitioner, maxParallelism: 128, maxBuffersPerSubpartition, subtaskIndex: 0, producer: 'operator "test"' });
}

/** Records of ~20 KiB: with a flush after each, every one travels in a buffer of its own. */
export const PAD = "p".repeat(20 * 1024);

/** Writes `n` records `{i, pad}` into a one-subpartition partition, each flushed into a buffer of its own. */
export function produce(partition: ResultPartition, n: number): void {
  const writer = writerOf(partition);
  for (let i = 0; i < n; i++) {
    writer.collect({ i, pad: PAD });
    writer.flush();
  }
}
