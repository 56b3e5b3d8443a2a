import type { StateBackendName } from "@riffle/shared";
import type { KeyedStateBackend, KeyedStateBackendOptions } from "./keyed-backend.js";
import { LevelDbKeyedStateBackend, type LevelDbKeyedStateBackendOptions } from "./leveldb/leveldb-backend.js";
import { MemoryKeyedStateBackend } from "./memory/memory-backend.js";

/** The keyed state backends: chosen per job or as the cluster's default. */
export type KeyedStateBackendType = StateBackendName;

export type KeyedStateBackendSpec = ({ type: "memory" } & KeyedStateBackendOptions) | ({ type: "leveldb" } & LevelDbKeyedStateBackendOptions);

export async function createKeyedStateBackend(spec: KeyedStateBackendSpec): Promise<KeyedStateBackend> {
  return spec.type === "leveldb" ? LevelDbKeyedStateBackend.create(spec) : new MemoryKeyedStateBackend(spec);
}
