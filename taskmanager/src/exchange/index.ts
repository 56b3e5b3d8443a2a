/**
 * The main thread's share of the data plane: gRPC connections to other TaskManagers, the bridges
 * that join a slot's MessagePorts to gRPC streams, and the directory of which slot produces which
 * partition.
 */
export { ConnectionManager } from "./connection-manager.js";
export { bridgeInbound, bridgeOutbound } from "./bridge.js";
export { PartitionDirectory } from "./partition-directory.js";
