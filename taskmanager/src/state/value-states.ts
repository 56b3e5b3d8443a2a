import { RiffleError } from "@riffle/shared";
import type { AggregateFunction, AggregatingState, ReducingState, ValueState } from "@riffle/sdk";
import type { ResolvedTtl } from "@riffle/sdk/internal";
import type { StateCells } from "./cells.js";
import { type Stamped, isExpired, refreshesOnRead } from "./ttl.js";

/** The states holding one value per key and namespace: value, reducing, aggregating. */
abstract class SingleValueState<V> {
  constructor(
    protected readonly cells: StateCells,
    protected readonly id: number,
    protected readonly ttl: ResolvedTtl | undefined,
  ) {}

  /** The live value, for reading; an expired one is removed. */
  protected current(): V | undefined {
    return this.live(this.cells.readCell(this.id));
  }

  /** The live value, which the caller may change in place before storing it. */
  protected currentForUpdate(): V | undefined {
    return this.live(this.cells.updateCell(this.id));
  }

  protected store(value: V | undefined): void {
    this.cells.writeCell(this.id, value === undefined || this.ttl === undefined ? value : ([value, this.cells.clock()] satisfies Stamped<V>));
  }

  clear(): void {
    this.cells.writeCell(this.id, undefined);
  }

  private live(stored: unknown): V | undefined {
    if (stored === undefined || this.ttl === undefined) return stored as V | undefined;
    const [value, stamp] = stored as Stamped<V>;
    const now = this.cells.clock();
    if (isExpired(stamp, this.ttl, now)) {
      this.cells.writeCell(this.id, undefined);
      return undefined;
    }
    if (refreshesOnRead(this.ttl) && stamp !== now) this.cells.writeCell(this.id, [value, now] satisfies Stamped<V>);
    return value;
  }
}

export class KeyedValueState<T> extends SingleValueState<T> implements ValueState<T> {
  constructor(
    cells: StateCells,
    id: number,
    ttl: ResolvedTtl | undefined,
    private readonly defaultValue: T | undefined,
  ) {
    super(cells, id, ttl);
  }

  value(): T | undefined {
    const v = this.current();
    return v === undefined ? this.defaultValue : v;
  }

  update(value: T | undefined): void {
    this.store(value);
  }
}

export class KeyedReducingState<T> extends SingleValueState<T> implements ReducingState<T> {
  constructor(
    cells: StateCells,
    id: number,
    ttl: ResolvedTtl | undefined,
    private readonly reduce: (a: T, b: T) => T,
    private readonly name: string,
  ) {
    super(cells, id, ttl);
  }

  get(): T | undefined {
    return this.current();
  }

  add(value: T): void {
    if (value === undefined) throw new RiffleError("STATE_INVALID_ARGUMENT", `reducing state '${this.name}': cannot add undefined`);
    const acc = this.currentForUpdate();
    this.store(acc === undefined ? value : this.reduce(acc, value));
  }
}

export class KeyedAggregatingState<IN, ACC, OUT> extends SingleValueState<ACC> implements AggregatingState<IN, OUT> {
  constructor(
    cells: StateCells,
    id: number,
    ttl: ResolvedTtl | undefined,
    private readonly fn: AggregateFunction<IN, ACC, OUT>,
  ) {
    super(cells, id, ttl);
  }

  get(): OUT | undefined {
    const acc = this.current();
    return acc === undefined ? undefined : this.fn.getResult(acc);
  }

  add(value: IN): void {
    const acc = this.currentForUpdate();
    this.store(this.fn.add(value, acc === undefined ? this.fn.createAccumulator() : acc));
  }
}
