/**
 * @riffle/shared — what every Riffle process shares: configuration, logging, metrics helpers, gRPC
 * plumbing, the record codec, key groups, job-graph types, typed errors and the clock.
 *
 * ```ts
 * import { loadConfig, createLogger, RiffleError } from "@riffle/shared";
 * const config = loadConfig({ overrides: { "rest.port": 0 } });
 * ```
 */
export { RiffleError, ErrorCodes, toRiffleError, describeError, isErrorCode, type ErrorCode, type ErrorDomain } from "./errors.js";
export { parseDuration, parseSize } from "./durations.js";
export { SystemClock, ManualClock, type Clock, type Cancel } from "./clock.js";
export { fencingToken, parseFencingToken, fencingTokenParts, compareFencingTokens, isOlderFencingToken, type FencingToken } from "./fencing.js";
export * from "./config/index.js";
export { createLogger, componentLogger, type Logger } from "./logging.js";
export { createRegistry, RateMeter, Counter, Gauge, Histogram, Registry } from "./metrics.js";
export * as rpc from "./grpc/index.js";
export type * from "./grpc/messages.js";
export { mapKeyOf } from "./map-key.js";
export { encodeBatch, decodeBatch, encodeValue, decodeValue } from "./codec.js";
export {
  canonicalKey,
  murmur3,
  murmur3Key,
  murmur3Utf8,
  keyGroupOf,
  operatorIndexForKeyGroup,
  keyGroupRangeForSubtask,
  type KeyGroupRange,
} from "./keygroups.js";
export {
  PARTITIONERS,
  connectEdge,
  isPointwise,
  type Partitioner,
  type OperatorKind,
  type OperatorSpec,
  type JobVertex,
  type JobEdge,
  type JobGraph,
  type JobRuntimeConfig,
  type RestartStrategy,
  type CheckpointSettings,
  type StateBackendName,
  type ChannelSpec,
} from "./jobgraph.js";
export { parseHostPort, freePort } from "./net.js";
export { isAlive, isRiffleProcess, spawnIntoLogFile, taskManagerArgs, type TaskManagerLaunch } from "./processes.js";
export type {
  KeyGroupRangeJson,
  KeyedStateHandle,
  OperatorStateMode,
  OperatorStateHandle,
  OperatorSubtaskState,
  TaskStateSnapshot,
  OperatorState,
  CheckpointMetadata,
  TaskRestore,
} from "./checkpoint.js";
export { bundleHash, bundlePath, storeBundle, readBundle, linkRuntimePackages } from "./bundles.js";
