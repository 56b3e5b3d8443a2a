/**
 * Keyed state as a user function sees it. Every call reads or writes the value of the key of the
 * record being processed (and, inside windows, of the current window). All methods are synchronous:
 * backends keep values in memory (the leveldb backend in a write-back cache), so processing a record
 * never waits for a disk.
 *
 * Write changes back with the state's own methods (`update`, `add`, `put`): changing an object read
 * from state in place, without writing it back, is not guaranteed to be kept.
 */

/** One value per key. */
export interface ValueState<T> {
  /** The value, or the descriptor's default (`undefined` without one) when there is none or it expired. */
  value(): T | undefined;
  /** Sets the value; `undefined` clears it. */
  update(value: T | undefined): void;
  clear(): void;
}

/** A list per key. */
export interface ListState<T> {
  /** A copy of the elements, oldest first (`[]` when empty). */
  get(): T[];
  add(value: T): void;
  addAll(values: readonly T[]): void;
  /** Replaces the elements; `[]` clears the list. */
  update(values: readonly T[]): void;
  clear(): void;
}

/**
 * A map per key. Map keys compare by value: strings as they are, other values by type and JSON form,
 * so `1` and `"1"` are different entries and `{ a: 1 }` finds an entry put with another `{ a: 1 }`.
 */
export interface MapState<K, V> {
  get(key: K): V | undefined;
  put(key: K, value: V): void;
  putAll(entries: Iterable<readonly [K, V]>): void;
  remove(key: K): void;
  contains(key: K): boolean;
  /** A copy of the entries, in insertion order. */
  entries(): [K, V][];
  keys(): K[];
  values(): V[];
  isEmpty(): boolean;
  clear(): void;
}

/** A value per key, combined with every added value by the descriptor's reduce function. */
export interface ReducingState<T> {
  /** The reduced value, or `undefined` when nothing was added. */
  get(): T | undefined;
  add(value: T): void;
  clear(): void;
}

/** An accumulator per key, folded by the descriptor's aggregate function; `get()` is its result. */
export interface AggregatingState<IN, OUT> {
  /** The aggregate's result, or `undefined` when nothing was added. */
  get(): OUT | undefined;
  add(value: IN): void;
  clear(): void;
}
