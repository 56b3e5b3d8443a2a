/**
 * The network stack of a TaskManager: result partitions and record writers on the producing side,
 * input gates with local and remote channels on the consuming side, and credit-based flow control
 * between TaskManagers over gRPC streams (see proto/riffle/v1/exchange.proto).
 */
export { NetworkBufferPool } from "./buffer-pool.js";
export type { NetworkBuffer } from "./buffer.js";
export { ResultPartition, ResultSubpartition } from "./result-partition.js";
export { PartitionManager } from "./partition-manager.js";
export { RecordWriter, type RecordWriterOptions } from "./record-writer.js";
export { InputGate, type GateItem } from "./input-gate.js";
export { LocalInputChannel } from "./local-channel.js";
export { RemoteInputChannel } from "./remote-channel.js";
export { RemoteSubpartitionView, exchangeHandler } from "./exchange-server.js";
export { ConnectionManager } from "./connection-manager.js";
export { Signal } from "./signal.js";
