import { createLogger, rpc } from "@riffle/shared";
import { NetworkBufferPool } from "../network/buffer-pool.js";
import { ConnectionManager } from "../network/connection-manager.js";
import { exchangeHandler } from "../network/exchange-server.js";
import { InputGate } from "../network/input-gate.js";
import { PartitionManager } from "../network/partition-manager.js";
import { RemoteInputChannel } from "../network/remote-channel.js";
import { ResultPartition } from "../network/result-partition.js";

/**
 * Two TaskManagers' network stacks in one process, over a real gRPC connection: a producer side
 * (partition manager + exchange server) and a consumer side (gate + remote channels), with separate
 * buffer pools. Everything created is closed by `cleanUp()` (call it after each test).
 */
export class ExchangeHarness {
  private readonly cleanups: Array<() => void | Promise<void>> = [];
  private readonly log = createLogger("test");

  constructor() {
    this.log.level = "silent";
  }

  async producerSide(buffers: number) {
    const pool = new NetworkBufferPool(buffers, 32 * 1024);
    const partitions = new PartitionManager();
    const server = rpc.createServer();
    rpc.addService(server, "DataExchange", { Exchange: exchangeHandler(partitions, 5000, this.log) });
    const port = await rpc.bindServer(server, "127.0.0.1", 0);
    this.cleanups.push(() => server.forceShutdown());
    return { pool, partitions, address: `127.0.0.1:${port}` };
  }

  consumerSide(buffers: number, floating: number) {
    const pool = new NetworkBufferPool(buffers, 32 * 1024);
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
      ch.open(connections.openStream(address), partitionId, subpartition, "test");
      return ch;
    };
    return { pool, gate, channel, failures };
  }

  async cleanUp(): Promise<void> {
    while (this.cleanups.length) await this.cleanups.pop()!();
  }
}

/** A partition whose writer is said to put `recordsPerBuffer` records in a buffer (the merge limit). */
export function partitionOf(id: string, subpartitions: number, pool: NetworkBufferPool, recordsPerBuffer: number): ResultPartition {
  const partition = new ResultPartition(id, subpartitions, pool, () => {});
  partition.encoding = { onEncoded() {}, recordsPerBuffer };
  return partition;
}
