import { MessageChannel } from "node:worker_threads";
import type * as grpc from "@grpc/grpc-js";
import { createLogger, rpc, type ExchangeRequest, type ExchangeResponse, type Partitioner } from "@riffle/shared";
import { NetworkBufferPool } from "../network/buffer-pool.js";
import { serveExchange } from "../network/exchange-server.js";
import { InputGate } from "../network/input-gate.js";
import { PartitionManager } from "../network/partition-manager.js";
import { RecordWriter } from "../network/record-writer.js";
import { RemoteInputChannel } from "../network/remote-channel.js";
import type { ResultPartition } from "../network/result-partition.js";
import { ConnectionManager } from "../exchange/connection-manager.js";
import { bridgeInbound, bridgeOutbound } from "../exchange/bridge.js";

/** The segment size of the harness's pools (Riffle's default). */
export const SEGMENT_SIZE = 32 * 1024;

/**
 * Two TaskManagers' network stacks in one process, over a real gRPC connection, through the same
 * pieces a cluster uses: on the producer side the main thread's inbound bridge and a slot's exchange
 * server (joined by a MessagePort), on the consumer side a slot's gate and remote channels whose ports
 * the outbound bridge joins to gRPC. Separate segment pools. Everything created is closed by
 * `cleanUp()` (call it after each test).
 */
export class ExchangeHarness {
  private readonly cleanups: Array<() => void | Promise<void>> = [];
  private readonly log = createLogger("test");

  constructor() {
    this.log.level = "silent";
  }

  async producerSide(segments: number) {
    const pool = new NetworkBufferPool(segments, SEGMENT_SIZE);
    const partitions = new PartitionManager();
    const server = rpc.createServer();
    rpc.addService(server, "DataExchange", {
      Exchange: (call: grpc.ServerDuplexStream<ExchangeRequest, ExchangeResponse>) =>
        bridgeInbound(
          call,
          async () => {
            const { port1, port2 } = new MessageChannel();
            serveExchange(port2, partitions, 5000, SEGMENT_SIZE, this.log);
            return port1;
          },
          this.log,
        ),
    });
    const port = await rpc.bindServer(server, "127.0.0.1", 0);
    this.cleanups.push(() => server.forceShutdown());
    return { pool, partitions, address: `127.0.0.1:${port}` };
  }

  consumerSide(segments: number, floating: number) {
    const pool = new NetworkBufferPool(segments, SEGMENT_SIZE);
    const connections = new ConnectionManager();
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
      const { port1, port2 } = new MessageChannel();
      bridgeOutbound(port2, connections.openStream(address));
      ch.open(port1, partitionId, subpartition, "test");
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
