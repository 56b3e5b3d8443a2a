export { LocalCluster, CLI_ENTRY, type LocalClusterOptions, type LocalClusterProcess } from "./local-cluster.js";
export { ClusterProcess, parseLogRecord, within, type ClusterProcessOptions, type ExitStatus, type LogRecord, type OutputMode } from "./process.js";
export {
  readClusterState,
  writeClusterState,
  removeClusterState,
  isAlive,
  isRiffleProcess,
  stopPid,
  pollUntil,
  CLUSTER_STATE_FILE,
  type ClusterState,
} from "./state.js";
