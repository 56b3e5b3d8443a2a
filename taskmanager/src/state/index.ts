/**
 * Keyed and operator state of a subtask: backends, their snapshots and restores.
 *
 * ```ts
 * const backend = await createKeyedStateBackend({ type: "leveldb", directory, maxParallelism: 128, keyGroupRange });
 * const count = backend.getState(new ValueStateDescriptor<number>("count", 0));
 * backend.setCurrentKey("alice");
 * count.update(count.value()! + 1);
 * const capture = backend.snapshot();      // synchronous, short
 * const handle = await capture.write(dir); // while processing goes on
 * ```
 */
export { KeyedStateBackend, MAX_KEY_GROUPS, type KeyedStateBackendOptions } from "./keyed-backend.js";
export { MemoryKeyedStateBackend } from "./memory/memory-backend.js";
export { LevelDbKeyedStateBackend, type LevelDbKeyedStateBackendOptions, type LevelDbBackendStats } from "./leveldb/leveldb-backend.js";
export { createKeyedStateBackend, type KeyedStateBackendType, type KeyedStateBackendSpec } from "./create-backend.js";
export { OperatorStateBackend, type OperatorStateBackendOptions } from "./operator/operator-backend.js";
export { redistributeOperatorState, evenSplit, type OperatorStatePartition, type OperatorListEntry } from "./operator/redistribute.js";
export { keyedHandlesFor, type KeyedStateHandle, type OperatorStateHandle, type StateHandle, type SnapshotCapture } from "./handles.js";
export type { StateMeta } from "./state-meta.js";
