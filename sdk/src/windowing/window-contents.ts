import type { InternalKeyedStateBackend } from "../state/backend.js";
import { type AggregateFunction, ListStateDescriptor, ValueStateDescriptor } from "../state/descriptors.js";
import type { ListState, ValueState } from "../state/state.js";
import type { TimestampedValue } from "./evictors.js";
import { type TimeWindow, windowNamespace } from "./windows.js";

/** The state name of window contents (one kind per operator). */
const CONTENTS = "_window/contents";

/**
 * Where a window operator keeps the elements of its windows, in keyed state under the window's
 * namespace (so contents are checkpointed, restored and rescaled with the key): an incremental
 * aggregate (reduce, aggregate) or the elements themselves (process, evictors). The backend's current
 * key and namespace say which window.
 */
export interface WindowContents {
  /** Adds an element to the current window; true when the window held nothing before (or when that is unknown). */
  add(value: unknown, timestamp: number | undefined): boolean;
  /** The contents for the window function, or undefined when the window is empty. */
  get(): unknown;
  clear(): void;
  /**
   * Merges the contents of `sources` into `target` (merging windows), in window order; the sources
   * end up empty. Leaves the backend on `target`'s namespace.
   */
  merge(target: TimeWindow, sources: readonly TimeWindow[]): void;
}

/** The windows in start order, the target among them, with their namespaces. */
function inOrder(target: TimeWindow, sources: readonly TimeWindow[]): { ns: string; isTarget: boolean }[] {
  return [target, ...sources].sort((a, b) => a.start - b.start).map((w) => ({ ns: windowNamespace(w), isTarget: w === target }));
}

/** Merging windows' lists: the elements of every window, in window order, into the target's list. */
function mergeLists<T>(backend: InternalKeyedStateBackend, state: ListState<T>, target: TimeWindow, sources: readonly TimeWindow[]): void {
  if (sources.length === 0) return;
  const all: T[] = [];
  for (const w of inOrder(target, sources)) {
    backend.setCurrentNamespace(w.ns);
    const list = state.get();
    if (!w.isTarget && list.length > 0) state.clear();
    for (const v of list) all.push(v);
  }
  backend.setCurrentNamespace(windowNamespace(target));
  state.update(all);
}

/**
 * One accumulated value per window: `add` folds an element into it, `combine` joins two windows'
 * values when windows merge (in window order).
 */
abstract class AccumulatorContents implements WindowContents {
  private readonly state: ValueState<unknown>;

  constructor(private readonly backend: InternalKeyedStateBackend) {
    this.state = backend.getState(new ValueStateDescriptor<unknown>(CONTENTS));
  }

  protected abstract fold(acc: unknown, value: unknown): unknown;
  protected abstract combine(a: unknown, b: unknown): unknown;

  add(value: unknown): boolean {
    const acc = this.state.value();
    this.state.update(this.fold(acc, value));
    return acc === undefined;
  }

  get(): unknown {
    return this.state.value();
  }

  clear(): void {
    this.state.clear();
  }

  merge(target: TimeWindow, sources: readonly TimeWindow[]): void {
    if (sources.length === 0) return;
    let acc: unknown;
    for (const w of inOrder(target, sources)) {
      this.backend.setCurrentNamespace(w.ns);
      const v = this.state.value();
      if (v === undefined) continue;
      if (!w.isTarget) this.state.clear();
      acc = acc === undefined ? v : this.combine(acc, v);
    }
    this.backend.setCurrentNamespace(windowNamespace(target));
    this.state.update(acc);
  }
}

/** A value per window, folded by a reduce function (Flink's ReducingState contents). */
export class ReduceContents extends AccumulatorContents {
  constructor(
    backend: InternalKeyedStateBackend,
    private readonly reduce: (a: unknown, b: unknown) => unknown,
  ) {
    super(backend);
  }

  protected fold(acc: unknown, value: unknown): unknown {
    return acc === undefined ? value : this.reduce(acc, value);
  }

  protected combine(a: unknown, b: unknown): unknown {
    return this.reduce(a, b);
  }
}

/**
 * An accumulator per window (Flink's AggregatingState contents). Kept as the accumulator itself, not
 * an AggregatingState, because merging windows and slices combine accumulators with `merge`; `get`
 * returns the accumulator (the window function calls getResult).
 */
export class AggregateContents extends AccumulatorContents {
  constructor(
    backend: InternalKeyedStateBackend,
    private readonly fn: AggregateFunction<unknown, unknown, unknown>,
  ) {
    super(backend);
  }

  protected fold(acc: unknown, value: unknown): unknown {
    return this.fn.add(value, acc === undefined ? this.fn.createAccumulator() : acc);
  }

  protected combine(a: unknown, b: unknown): unknown {
    return this.fn.merge!(a, b);
  }
}

/** The elements of the window, in arrival order (process functions). */
export class ListContents implements WindowContents {
  private readonly state: ListState<unknown>;

  constructor(private readonly backend: InternalKeyedStateBackend) {
    this.state = backend.getListState(new ListStateDescriptor<unknown>(CONTENTS));
  }

  add(value: unknown): boolean {
    this.state.add(value);
    return true;
  }

  get(): unknown[] | undefined {
    const list = this.state.get();
    return list.length === 0 ? undefined : list;
  }

  clear(): void {
    this.state.clear();
  }

  merge(target: TimeWindow, sources: readonly TimeWindow[]): void {
    mergeLists(this.backend, this.state, target, sources);
  }
}

/** A buffered element with its timestamp: `[value, timestamp or null]` (plain data for snapshots). */
type Stored = [unknown, number | null];

/** The elements with their timestamps (windows with an evictor). */
export class TimestampedListContents implements WindowContents {
  private readonly state: ListState<Stored>;

  constructor(private readonly backend: InternalKeyedStateBackend) {
    this.state = backend.getListState(new ListStateDescriptor<Stored>(CONTENTS));
  }

  add(value: unknown, timestamp: number | undefined): boolean {
    this.state.add([value, timestamp ?? null]);
    return true;
  }

  get(): TimestampedValue<unknown>[] | undefined {
    const list = this.state.get();
    if (list.length === 0) return undefined;
    return list.map(([value, ts]) => ({ value, timestamp: ts ?? undefined }));
  }

  /** Replaces the contents with what the evictors left. */
  replace(elements: readonly TimestampedValue<unknown>[]): void {
    this.state.update(elements.map((e): Stored => [e.value, e.timestamp ?? null]));
  }

  clear(): void {
    this.state.clear();
  }

  merge(target: TimeWindow, sources: readonly TimeWindow[]): void {
    mergeLists(this.backend, this.state, target, sources);
  }
}
