import type { TimerHeap } from "../time/timer-heap.js";
import type { KeyedStateStore } from "./stores.js";

/**
 * The current key (and namespace) that every keyed state access is scoped to. A keyed operator sets
 * the key before it hands a record to the user function; windows set the namespace to a window id.
 */
export interface KeyContext {
  /** Sets the key of the record being processed; a key outside the subtask's key groups is refused. */
  setCurrentKey(key: unknown): void;
  getCurrentKey(): unknown;
  /** Sets the namespace of later accesses (default `""`: the key's own state). */
  setCurrentNamespace(namespace: string): void;
  getCurrentNamespace(): string;
}

/** A keyed state backend as operators see it: the key context plus the state store user functions get. */
export interface InternalKeyedStateBackend extends KeyContext, KeyedStateStore {
  /**
   * Clears state `name` of the current key in the current namespace, whatever its kind; nothing when
   * no state of that name was registered or restored (as `clear()` of the state itself).
   */
  clearState(name: string): void;
  /** The key group of the current key; -1 while no key is set. */
  getCurrentKeyGroup(): number;
  /**
   * The timer queue `name` (Flink's PriorityQueueSetFactory#create): the same queue for the same name,
   * already holding its timers of this subtask's key groups when the backend was restored. The
   * backend checkpoints it with the keyed state, by key group, so timers rescale as keyed state does.
   */
  getTimerQueue(name: string): TimerHeap;
}

/** The namespace of state that belongs to the key itself (not to a window). */
export const DEFAULT_NAMESPACE = "";
