/**
 * The network stack of a slot: result partitions and record writers on the producing side, input
 * gates with local and remote channels on the consuming side, all on the slot's segment pool, and
 * credit-based flow control with channels outside the slot: over MessagePorts between slots of one
 * TaskManager, over gRPC between slots of two (see proto/riffle/v1/exchange.proto and
 * docs/decisions/0006, 0018).
 */
export { NetworkBufferPool } from "./buffer-pool.js";
export type { QueuedBuffer, InputItem, DecodedData, NetworkEvent, SegmentBuffer, CheckpointBarrier } from "./buffer.js";
export { timestampOf } from "./buffer.js";
export { ResultPartition, ResultSubpartition } from "./result-partition.js";
export { PartitionManager } from "./partition-manager.js";
export { RecordWriter, type RecordWriterOptions } from "./record-writer.js";
export { InputGate, type GateItem } from "./input-gate.js";
export { LocalInputChannel } from "./local-channel.js";
export { RemoteInputChannel } from "./remote-channel.js";
export { RemoteSubpartitionView, serveExchange } from "./exchange-server.js";
export { PortStream, overPort, type DataStream, type OpenStream, type PortEnvelope } from "./port-stream.js";
export { DataConnections, overGrpcCall } from "./grpc-stream.js";
export { RecordSerializer, RecordDeserializer } from "./serialization.js";
export { Signal } from "./signal.js";
