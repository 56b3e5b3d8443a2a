import { type KeyGroupRange, RiffleError, canonicalKey, murmur3Utf8 } from "@riffle/shared";
import type {
  AggregatingState,
  AggregatingStateDescriptor,
  ListState,
  ListStateDescriptor,
  MapState,
  MapStateDescriptor,
  ReducingState,
  ReducingStateDescriptor,
  StateDescriptor,
  StateKind,
  ValueState,
  ValueStateDescriptor,
} from "@riffle/sdk";
import { DEFAULT_NAMESPACE, type InternalKeyedStateBackend, TimerHeap } from "@riffle/sdk/internal";
import type { StateCells } from "./cells.js";
import type { KeyedStateHandle, SnapshotCapture } from "./handles.js";
import { KeyedListState } from "./list-state.js";
import { KeyedMapState } from "./map-state.js";
import { readKeyedSnapshot } from "./snapshot-format.js";
import { MAX_STATES, type StateMeta, checkCompatible } from "./state-meta.js";
import { TimerSnapshot } from "./timer-snapshot.js";
import { KeyedAggregatingState, KeyedReducingState, KeyedValueState } from "./value-states.js";

export interface KeyedStateBackendOptions {
  /** Number of key groups of the job; fixed for the job's life (at most 32768). */
  maxParallelism: number;
  /** The key groups this subtask owns (keyGroupRangeForSubtask). */
  keyGroupRange: KeyGroupRange;
  /** Milliseconds for time-to-live; default Date.now. Tests drive it by hand. */
  clock?: () => number;
}

/** Where the restore of one snapshot entry goes: a backend's own state id, and the entry's parts. */
export type RestoreSink = (keyGroup: number, stateId: number, key: string, namespace: string, value: Uint8Array) => void;

/** Flink's upper bound on max parallelism; key groups are 16-bit in LevelDB keys and snapshot frames. */
export const MAX_KEY_GROUPS = 32768;

/**
 * Keyed state of one operator subtask. The operator sets the current key for every record
 * (`setCurrentKey`: the key's canonical text and key group are computed once there), and every state
 * object then reads and writes the value of that key, in the current namespace.
 *
 * Backends store opaque values per (key group, state id, key, namespace) through {@link StateCells};
 * the state objects (value, list, map, reducing, aggregating) are the same for every backend, and so
 * is the snapshot file format, so a checkpoint taken with one backend restores into another.
 *
 * The backend also holds the operator's timer queues ({@link getTimerQueue}), in memory whatever the
 * backend: their snapshots capture a shallow copy of each queue ({@link captureTimers}) and write it
 * by key group into the same file as the state, and a restore refills them with its key groups only.
 */
export abstract class KeyedStateBackend implements InternalKeyedStateBackend, StateCells {
  readonly maxParallelism: number;
  readonly keyGroupRange: KeyGroupRange;
  readonly clock: () => number;

  protected currentKey: unknown = undefined;
  /** The canonical text of the current key: the identity of a key in every backend. */
  protected currentKeyText = "";
  /** -1 while no (valid) key is set. */
  protected currentKeyGroup = -1;
  protected currentNamespace = DEFAULT_NAMESPACE;
  /** Changes with every key or namespace change, so a backend can memoise what it looked up for the current one. */
  protected contextVersion = 0;

  /** Registered states by id; restored states are registered before any descriptor asks for them. */
  protected readonly metas: StateMeta[] = [];
  private readonly byName = new Map<string, { meta: StateMeta; state?: unknown }>();
  /** Timer queues by name; restored ones are created before their timer service asks for them. */
  private readonly timerQueues = new Map<string, TimerHeap>();

  protected constructor(options: KeyedStateBackendOptions) {
    const { maxParallelism, keyGroupRange: range } = options;
    if (!Number.isInteger(maxParallelism) || maxParallelism < 1 || maxParallelism > MAX_KEY_GROUPS) {
      throw new RiffleError("INTERNAL", `max parallelism must be an integer in [1, ${MAX_KEY_GROUPS}], got ${maxParallelism}`);
    }
    if (!Number.isInteger(range?.start) || !Number.isInteger(range?.end) || range.start < 0 || range.end < range.start || range.end >= maxParallelism) {
      throw new RiffleError("INTERNAL", `key-group range ${JSON.stringify(range)} is not within [0, ${maxParallelism - 1}]`);
    }
    this.maxParallelism = maxParallelism;
    this.keyGroupRange = { start: range.start, end: range.end };
    this.clock = options.clock ?? Date.now;
  }

  // ---- key context ----

  setCurrentKey(key: unknown): void {
    const text = this.keyText(key);
    this.setKey(key, text, this.checkedKeyGroup(text));
  }

  /** The canonical text of `key` (see canonicalKey). */
  protected keyText(key: unknown): string {
    return typeof key === "string" ? key : canonicalKey(key);
  }

  /**
   * The key group of a key's canonical text (as keyGroupOf(key), without computing the text twice);
   * throws, with no current key left set, when this subtask does not own it.
   */
  protected checkedKeyGroup(text: string): number {
    return this.checkedKeyGroupOf(murmur3Utf8(text), text);
  }

  /** As checkedKeyGroup, for a key whose text's murmur3 hash is known. */
  protected checkedKeyGroupOf(hash: number, text: string): number {
    const keyGroup = hash % this.maxParallelism;
    if (keyGroup < this.keyGroupRange.start || keyGroup > this.keyGroupRange.end) {
      this.contextVersion++;
      this.currentKeyGroup = -1;
      throw new RiffleError(
        "INTERNAL",
        `key ${JSON.stringify(text)} belongs to key group ${keyGroup}, outside this subtask's key-group range [${this.keyGroupRange.start}, ${this.keyGroupRange.end}]: records were partitioned with another max parallelism or key selector`,
      );
    }
    return keyGroup;
  }

  /** Makes `key` (canonical text `text`, in key group `keyGroup` of this subtask) the current key. */
  protected setKey(key: unknown, text: string, keyGroup: number): void {
    this.contextVersion++;
    this.currentKey = key;
    this.currentKeyText = text;
    this.currentKeyGroup = keyGroup;
  }

  getCurrentKey(): unknown {
    return this.currentKey;
  }

  /** The key group of the current key (-1 when none is set). */
  getCurrentKeyGroup(): number {
    return this.currentKeyGroup;
  }

  setCurrentNamespace(namespace: string): void {
    if (typeof namespace !== "string") throw new RiffleError("INTERNAL", `a state namespace is a string, got ${typeof namespace}`);
    if (namespace === this.currentNamespace) return;
    this.currentNamespace = namespace;
    this.contextVersion++;
  }

  getCurrentNamespace(): string {
    return this.currentNamespace;
  }

  // ---- timers ----

  getTimerQueue(name: string): TimerHeap {
    let queue = this.timerQueues.get(name);
    if (queue === undefined) {
      queue = new TimerHeap();
      this.timerQueues.set(name, queue);
    }
    return queue;
  }

  /**
   * The timer part of a snapshot's synchronous capture: a shallow copy of each queue, grouped and
   * encoded later by the snapshot writer. Undefined when there are no timer queues.
   */
  protected captureTimers(): TimerSnapshot | undefined {
    return this.timerQueues.size === 0 ? undefined : TimerSnapshot.capture(this.timerQueues, this.keyGroupRange);
  }

  // ---- state store ----

  getState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T> {
    return this.stateFor(descriptor, "value", (id) => new KeyedValueState<T>(this, id, descriptor.ttl, descriptor.defaultValue));
  }

  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    return this.stateFor(descriptor, "list", (id) => new KeyedListState<T>(this, id, descriptor.ttl, descriptor.name));
  }

  getMapState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V> {
    return this.stateFor(descriptor, "map", (id) => new KeyedMapState<K, V>(this, id, descriptor.ttl));
  }

  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T> {
    return this.stateFor(descriptor, "reducing", (id) => new KeyedReducingState<T>(this, id, descriptor.ttl, descriptor.reduceFn, descriptor.name));
  }

  getAggregatingState<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT> {
    return this.stateFor(descriptor, "aggregating", (id) => new KeyedAggregatingState<IN, ACC, OUT>(this, id, descriptor.ttl, descriptor.aggregateFunction));
  }

  clearState(name: string): void {
    const known = this.byName.get(name);
    // Every kind stores one cell per (key, namespace): clearing is writing none (as each state's clear()).
    if (known !== undefined) this.writeCell(known.meta.id, undefined);
  }

  /** The registered states, by id. */
  registeredStates(): readonly StateMeta[] {
    return this.metas;
  }

  private stateFor<S>(descriptor: StateDescriptor, kind: StateKind, create: (id: number) => S): S {
    if (descriptor?.kind !== kind) {
      throw new RiffleError(
        "STATE_INVALID_ARGUMENT",
        `get${kind === "value" ? "" : kind[0]!.toUpperCase() + kind.slice(1)}State needs a ${kind} state descriptor`,
      );
    }
    const ttl = descriptor.ttl !== undefined;
    const known = this.byName.get(descriptor.name);
    if (known !== undefined) {
      checkCompatible(known.meta, kind, ttl);
      if (known.state !== undefined) return known.state as S;
    }
    const meta = known?.meta ?? this.registerState(descriptor.name, kind, ttl);
    const registered = this.byName.get(descriptor.name)!;
    const state = create(meta.id);
    registered.state = state;
    return state;
  }

  /** Registers a state name (from a descriptor, or from a snapshot being restored) and gives it the next id. */
  protected registerState(name: string, kind: StateKind, ttl: boolean): StateMeta {
    const existing = this.byName.get(name);
    if (existing !== undefined) {
      checkCompatible(existing.meta, kind, ttl);
      return existing.meta;
    }
    if (this.metas.length >= MAX_STATES) throw new RiffleError("STATE_INVALID_ARGUMENT", `an operator can hold at most ${MAX_STATES} keyed states`);
    const meta: StateMeta = { id: this.metas.length, name, kind, ttl };
    this.metas.push(meta);
    this.byName.set(name, { meta });
    return meta;
  }

  /**
   * Reads the key groups of this backend's range from `handles` (of any old parallelism: key groups
   * outside the range are skipped unread), registers the states they hold, adds their timers to the
   * timer queues, and passes every state entry to `sink` with this backend's state id. `afterFrame` is awaited after each frame's entries (a
   * backend that writes them in batches waits there).
   */
  protected async readSnapshots(dir: string, handles: readonly KeyedStateHandle[], sink: RestoreSink, afterFrame?: () => Promise<void>): Promise<void> {
    for (const handle of handles) {
      let ids: number[] = [];
      let queues: TimerHeap[] = [];
      await readKeyedSnapshot(dir, handle, this.keyGroupRange, this.maxParallelism, {
        onHeader: (states, timerQueues) => {
          ids = [];
          for (const s of states) ids[s.id] = this.registerRestoredState(s, handle.path).id;
          queues = timerQueues.map((name) => this.getTimerQueue(name));
        },
        onTimer: (keyGroup, queueId, timestamp, key, namespace) => {
          const queue = queues[queueId];
          if (queue === undefined)
            throw new RiffleError("STATE_RESTORE_FAILED", `${handle.path}: a timer names queue id ${queueId}, which the file does not declare`);
          queue.add(timestamp, key, namespace, keyGroup);
        },
        onEntry: (keyGroup, fileStateId, key, namespace, value) => {
          const id = ids[fileStateId];
          if (id === undefined)
            throw new RiffleError("STATE_RESTORE_FAILED", `${handle.path}: an entry names state id ${fileStateId}, which the file does not declare`);
          sink(keyGroup, id, key, namespace, value);
        },
        afterFrame,
      });
    }
  }

  private registerRestoredState(s: Omit<StateMeta, "id">, path: string): StateMeta {
    try {
      return this.registerState(s.name, s.kind, s.ttl);
    } catch (err) {
      throw new RiffleError("STATE_RESTORE_FAILED", `${path}: ${(err as Error).message}`, { cause: err });
    }
  }

  // ---- backend contract ----

  abstract readCell(stateId: number): unknown;
  abstract updateCell(stateId: number): unknown;
  abstract writeCell(stateId: number, value: unknown): void;

  /** Takes the synchronous part of a snapshot of every key group in range; see {@link SnapshotCapture}. */
  abstract snapshot(): SnapshotCapture<KeyedStateHandle>;

  /**
   * Loads state from snapshot files under `dir` (handles of any subtasks whose ranges overlap this
   * one: see keyedHandlesFor), keeping only this backend's key groups. Call before any state is used.
   */
  abstract restore(dir: string, handles: readonly KeyedStateHandle[]): Promise<void>;

  /** Releases everything the backend holds (the leveldb backend deletes its database). */
  abstract dispose(): Promise<void>;

  /**
   * False while the backend needs processing to pause (the leveldb backend when its cache is far past
   * its bound, waiting for background writes); a task then waits for {@link available}.
   */
  isAvailable(): boolean {
    return true;
  }

  available(): Promise<void> {
    return Promise.resolve();
  }

  /** The error for a state access with no current key. */
  protected noCurrentKey(): RiffleError {
    return new RiffleError("STATE_INVALID_ARGUMENT", "keyed state is only available while a keyed record (or timer) is processed: no current key is set");
  }
}
