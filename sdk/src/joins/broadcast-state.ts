import { RiffleError, mapKeyOf } from "@riffle/shared";
import type { ListState } from "../state/state.js";

/**
 * Broadcast state as the non-broadcast side sees it: read-only (Flink's ReadOnlyBroadcastState).
 * Values are the objects held in the state: do not change them in place.
 */
export interface ReadOnlyBroadcastState<K, V> {
  get(key: K): V | undefined;
  contains(key: K): boolean;
  /** A copy of the entries, in insertion order. */
  entries(): [K, V][];
  keys(): K[];
  values(): V[];
  size(): number;
  isEmpty(): boolean;
}

/**
 * A map replicated on every subtask of a broadcast operator (Flink's BroadcastState), changed only by
 * broadcast elements. Keys compare as those of MapState: strings as they are, other values by type
 * and JSON form. Keys and values must be plain, msgpack-serialisable data: they are checkpointed.
 */
export interface BroadcastState<K, V> extends ReadOnlyBroadcastState<K, V> {
  put(key: K, value: V): void;
  putAll(entries: Iterable<readonly [K, V]>): void;
  remove(key: K): void;
  clear(): void;
}

/**
 * One broadcast state of one subtask: a Map in memory (broadcast state is small and read on every
 * element), written whole into union operator state at each checkpoint.
 *
 * Every subtask checkpoints its full copy; on restore, at any parallelism, each subtask receives the
 * union of the old subtasks' copies and rebuilds the map from it, keeping the first entry of each key
 * (the copies are identical when the function changes broadcast state deterministically).
 */
export class HeapBroadcastState<K, V> implements BroadcastState<K, V> {
  private readonly map = new Map<string, [K, V]>();
  /** The same state behind a read-only face, handed to processElement and onTimer. */
  readonly readOnly: ReadOnlyBroadcastState<K, V>;

  constructor(
    readonly name: string,
    private readonly checkpointed: ListState<[K, V]>,
  ) {
    this.readOnly = readOnlyView(this);
  }

  /** Rebuilds the map from the union of the old subtasks' copies. */
  restore(): void {
    for (const [key, value] of this.checkpointed.get()) {
      const id = mapKeyOf(key);
      if (!this.map.has(id)) this.map.set(id, [key, value]);
    }
  }

  /** Synchronous part of a checkpoint: the entries into the union list state. */
  snapshot(): void {
    this.checkpointed.update(this.entries());
  }

  get(key: K): V | undefined {
    return this.map.get(mapKeyOf(key))?.[1];
  }

  contains(key: K): boolean {
    return this.map.has(mapKeyOf(key));
  }

  entries(): [K, V][] {
    return Array.from(this.map.values(), ([k, v]) => [k, v]);
  }

  keys(): K[] {
    return Array.from(this.map.values(), (e) => e[0]);
  }

  values(): V[] {
    return Array.from(this.map.values(), (e) => e[1]);
  }

  size(): number {
    return this.map.size;
  }

  isEmpty(): boolean {
    return this.map.size === 0;
  }

  put(key: K, value: V): void {
    this.map.set(mapKeyOf(key), [key, value]);
  }

  putAll(entries: Iterable<readonly [K, V]>): void {
    for (const [k, v] of entries) this.put(k, v);
  }

  remove(key: K): void {
    this.map.delete(mapKeyOf(key));
  }

  clear(): void {
    this.map.clear();
  }
}

/**
 * A read-only face of a broadcast state. Its mutators exist only to refuse: TypeScript hides them,
 * but JavaScript callers (or casts) get a clear error instead of silently diverging subtasks.
 */
function readOnlyView<K, V>(state: HeapBroadcastState<K, V>): ReadOnlyBroadcastState<K, V> {
  const refuse = (): never => {
    throw new RiffleError(
      "STATE_INVALID_ARGUMENT",
      `broadcast state '${state.name}' is read-only in processElement and onTimer: change it in processBroadcastElement, which every subtask runs for every broadcast element`,
    );
  };
  return Object.freeze({
    get: (key: K) => state.get(key),
    contains: (key: K) => state.contains(key),
    entries: () => state.entries(),
    keys: () => state.keys(),
    values: () => state.values(),
    size: () => state.size(),
    isEmpty: () => state.isEmpty(),
    put: refuse,
    putAll: refuse,
    remove: refuse,
    clear: refuse,
  });
}
