import { RiffleError } from "@riffle/shared";
import { type ResolvedTtl, type StateTtlConfig, resolveTtl } from "./ttl.js";

/** The five kinds of keyed state. A state's kind is fixed by its first descriptor and kept in snapshots. */
export type StateKind = "value" | "list" | "map" | "reducing" | "aggregating";

/**
 * Names a state and how it behaves. The name identifies the state inside its operator, across
 * checkpoints and restores: keep it stable, and keep its kind (and whether it has a TTL) unchanged.
 *
 * ```ts
 * const count = new ValueStateDescriptor<number>("count", 0).enableTimeToLive({ ttlMs: 3_600_000 });
 * ```
 */
export abstract class StateDescriptor {
  abstract readonly kind: StateKind;
  readonly name: string;
  private ttlConfig: ResolvedTtl | undefined;

  constructor(name: string) {
    if (typeof name !== "string" || name.length === 0) throw new RiffleError("STATE_INVALID_ARGUMENT", "a state needs a non-empty name");
    this.name = name;
  }

  /** Lets values expire `ttlMs` after their last write (or read, with `updateType: "OnReadAndWrite"`). */
  enableTimeToLive(config: StateTtlConfig): this {
    this.ttlConfig = resolveTtl(this.name, config);
    return this;
  }

  /** The validated time-to-live, if enabled. */
  get ttl(): ResolvedTtl | undefined {
    return this.ttlConfig;
  }
}

export class ValueStateDescriptor<T> extends StateDescriptor {
  readonly kind = "value";

  /** `defaultValue` is what `value()` returns for a key without a value; it is shared, so keep it immutable. */
  constructor(
    name: string,
    readonly defaultValue?: T,
  ) {
    super(name);
  }
}

export class ListStateDescriptor<T> extends StateDescriptor {
  readonly kind = "list";
  /** Carries the element type only. */
  declare readonly elementType?: T;
}

export class MapStateDescriptor<K, V> extends StateDescriptor {
  readonly kind = "map";
  /** Carry the key and value types only. */
  declare readonly keyType?: K;
  declare readonly valueType?: V;
}

export class ReducingStateDescriptor<T> extends StateDescriptor {
  readonly kind = "reducing";
  readonly reduceFn: (a: T, b: T) => T;

  constructor(name: string, reduceFn: ((a: T, b: T) => T) | { reduce(a: T, b: T): T }) {
    super(name);
    this.reduceFn = bindFunction(reduceFn, "reduce", name);
  }
}

/**
 * Flink's AggregateFunction: an accumulator is created per key, every input is added to it, and
 * `getResult` turns it into the state's value. `add` may change the accumulator in place and return
 * it. `merge` combines two accumulators (merging windows need it).
 */
export interface AggregateFunction<IN, ACC, OUT> {
  createAccumulator(): ACC;
  add(value: IN, accumulator: ACC): ACC;
  getResult(accumulator: ACC): OUT;
  merge?(a: ACC, b: ACC): ACC;
}

export class AggregatingStateDescriptor<IN, ACC, OUT> extends StateDescriptor {
  readonly kind = "aggregating";

  constructor(
    name: string,
    readonly aggregateFunction: AggregateFunction<IN, ACC, OUT>,
  ) {
    super(name);
    const fn = aggregateFunction as Partial<AggregateFunction<IN, ACC, OUT>> | undefined;
    for (const method of ["createAccumulator", "add", "getResult"] as const) {
      if (typeof fn?.[method] !== "function") {
        throw new RiffleError("STATE_INVALID_ARGUMENT", `state '${name}': the aggregate function needs a ${method}() method`);
      }
    }
  }
}

/** Any keyed state descriptor. */
export type AnyStateDescriptor =
  | ValueStateDescriptor<unknown>
  | ListStateDescriptor<unknown>
  | MapStateDescriptor<unknown, unknown>
  | ReducingStateDescriptor<unknown>
  | AggregatingStateDescriptor<unknown, unknown, unknown>;

function bindFunction<F extends (...args: never[]) => unknown>(fn: unknown, method: string, stateName: string): F {
  if (typeof fn === "function") return fn as F;
  const m = (fn as Record<string, unknown> | null | undefined)?.[method];
  if (typeof m === "function") return m.bind(fn) as F;
  throw new RiffleError("STATE_INVALID_ARGUMENT", `state '${stateName}': needs a function or an object with a ${method}() method`);
}
