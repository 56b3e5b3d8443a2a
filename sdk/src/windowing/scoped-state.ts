import type { KeyContext } from "../state/backend.js";
import type {
  AggregatingStateDescriptor,
  AnyStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from "../state/descriptors.js";
import type { AggregatingState, ListState, MapState, ReducingState, ValueState } from "../state/state.js";
import type { KeyedStateStore } from "../state/stores.js";

/**
 * A KeyedStateStore whose states switch the backend to one namespace before every access: a window
 * function can use per-window state (the window's namespace) and per-key state (the default one)
 * side by side, whatever namespace the operator left current. Off the per-record path (windows use
 * it when they fire), so the extra call per access does not matter.
 */
export class ScopedStateStore implements KeyedStateStore {
  private readonly states = new Map<string, unknown>();

  constructor(
    private readonly backend: KeyContext & KeyedStateStore,
    /** The namespace to switch to (read at every access: the window being evaluated changes). */
    private readonly namespace: () => string,
    /** Told of every descriptor used, so the operator can clear per-window state with its window. */
    private readonly onDescriptor?: (d: AnyStateDescriptor) => void,
  ) {}

  getState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T> {
    return this.scoped(descriptor, () => {
      const s = this.backend.getState(descriptor);
      return { value: this.wrap(() => s.value()), update: this.wrap((v) => s.update(v)), clear: this.wrap(() => s.clear()) } satisfies ValueState<T>;
    });
  }

  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    return this.scoped(descriptor, () => {
      const s = this.backend.getListState(descriptor);
      return {
        get: this.wrap(() => s.get()),
        add: this.wrap((v) => s.add(v)),
        addAll: this.wrap((v) => s.addAll(v)),
        update: this.wrap((v) => s.update(v)),
        clear: this.wrap(() => s.clear()),
      } satisfies ListState<T>;
    });
  }

  getMapState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V> {
    return this.scoped(descriptor, () => {
      const s = this.backend.getMapState(descriptor);
      return {
        get: this.wrap((k) => s.get(k)),
        put: this.wrap((k, v) => s.put(k, v)),
        putAll: this.wrap((e) => s.putAll(e)),
        remove: this.wrap((k) => s.remove(k)),
        contains: this.wrap((k) => s.contains(k)),
        entries: this.wrap(() => s.entries()),
        keys: this.wrap(() => s.keys()),
        values: this.wrap(() => s.values()),
        isEmpty: this.wrap(() => s.isEmpty()),
        clear: this.wrap(() => s.clear()),
      } satisfies MapState<K, V>;
    });
  }

  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T> {
    return this.scoped(descriptor, () => {
      const s = this.backend.getReducingState(descriptor);
      return { get: this.wrap(() => s.get()), add: this.wrap((v) => s.add(v)), clear: this.wrap(() => s.clear()) } satisfies ReducingState<T>;
    });
  }

  getAggregatingState<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT> {
    return this.scoped(descriptor, () => {
      const s = this.backend.getAggregatingState(descriptor);
      return { get: this.wrap(() => s.get()), add: this.wrap((v) => s.add(v)), clear: this.wrap(() => s.clear()) } satisfies AggregatingState<IN, OUT>;
    });
  }

  /** `f`, entering the namespace first. */
  private wrap<A extends unknown[], R>(f: (...args: A) => R): (...args: A) => R {
    return (...args) => {
      this.backend.setCurrentNamespace(this.namespace());
      return f(...args);
    };
  }

  private scoped<S>(descriptor: { name: string; kind: string }, create: () => S): S {
    const id = `${descriptor.kind}:${descriptor.name}`;
    let s = this.states.get(id) as S | undefined;
    if (s === undefined) {
      s = create();
      this.states.set(id, s);
      this.onDescriptor?.(descriptor as AnyStateDescriptor);
    }
    return s;
  }
}
