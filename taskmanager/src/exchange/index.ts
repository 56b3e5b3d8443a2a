/**
 * The main thread's share of the data plane: the directory of which slot produces which partition.
 * It hands a port to the producer's worker for a channel of another slot of this TaskManager, and
 * tells slots of other TaskManagers which slot's data server to stream from (decision 0018); buffers
 * never pass through the main thread.
 */
export { PartitionDirectory } from "./partition-directory.js";
