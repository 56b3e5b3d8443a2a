/**
 * @riffle/taskmanager — the worker process of a Riffle cluster.
 *
 * ```ts
 * import { loadConfig } from "@riffle/shared";
 * import { TaskManager } from "@riffle/taskmanager";
 * const tm = await TaskManager.create(loadConfig({ overrides: { "taskmanager.jobmanager.address": "127.0.0.1:6123" } }));
 * ```
 */
export { TaskManager } from "./taskmanager.js";
export { taskManagerV8Flags } from "./slot/index.js";
export { workDirectoryOwner, type HostIdentity } from "./workdir/index.js";
export { DEFAULT_CACHE_MAX_ENTRIES as LEVELDB_DEFAULT_CACHE_MAX_ENTRIES } from "./state/leveldb/leveldb-backend.js";
