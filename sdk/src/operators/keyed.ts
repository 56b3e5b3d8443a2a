import { canonicalKey } from "@riffle/shared";
import { closeFunction, openFunction, type Collector, type KeyedProcessContext } from "../api/functions.js";
import { StreamOperator, callable, type OperatorRuntime } from "./operator.js";

/**
 * Keyed operators keep one value per key. Until the state backends arrive this is a Map in the task;
 * the key's canonical text is the map key, as it is the key-group hash input. Values sit in a holder
 * so an update is one lookup.
 */
interface Slot {
  value: unknown;
}

abstract class KeyedOperator extends StreamOperator {
  protected readonly keyOf: (v: unknown) => unknown;

  constructor(keySelector: unknown) {
    super();
    this.keyOf = callable(keySelector, "getKey", "a key selector");
  }
}

export class KeyedReduceOperator extends KeyedOperator {
  private readonly values = new Map<string, Slot>();
  private readonly reduce: (a: unknown, b: unknown) => unknown;

  constructor(
    private readonly userFunction: unknown,
    keySelector: unknown,
  ) {
    super(keySelector);
    this.reduce = callable(userFunction, "reduce", "a reduce function");
  }

  override async open(rt: OperatorRuntime): Promise<void> {
    await openFunction(this.userFunction, rt.ctx);
  }

  override async close(): Promise<void> {
    await closeFunction(this.userFunction);
  }

  processElement(record: unknown): void {
    const key = canonicalKey(this.keyOf(record));
    const slot = this.values.get(key);
    if (slot === undefined) {
      this.values.set(key, { value: record });
      this.output.collect(record);
      return;
    }
    const next = this.reduce(slot.value, record);
    slot.value = next;
    this.output.collect(next);
  }
}

export type AggregationType = "sum" | "min" | "max" | "minBy" | "maxBy";

/**
 * Flink's rolling aggregations: `sum`/`min`/`max` update one field of the key's first record;
 * `minBy`/`maxBy` keep the whole record holding the extreme value (the first one on ties).
 */
export class KeyedAggregateOperator extends KeyedOperator {
  private readonly values = new Map<string, Slot>();

  /** The aggregation, chosen once: the per-record path has no switch. */
  private readonly combine: (acc: unknown, record: unknown) => unknown;

  constructor(
    keySelector: unknown,
    private readonly type: AggregationType,
    private readonly field: string | number | null,
  ) {
    super(keySelector);
    this.combine = this.combinerFor(type);
  }

  private combinerFor(type: AggregationType): (acc: unknown, record: unknown) => unknown {
    switch (type) {
      case "sum":
        return (acc, record) => this.write(acc, this.read(acc) + this.read(record));
      case "min":
        return (acc, record) => {
          const b = this.read(record);
          return b < this.read(acc) ? this.write(acc, b) : acc;
        };
      case "max":
        return (acc, record) => {
          const b = this.read(record);
          return b > this.read(acc) ? this.write(acc, b) : acc;
        };
      case "minBy":
        return (acc, record) => (this.read(record) < this.read(acc) ? record : acc);
      case "maxBy":
        return (acc, record) => (this.read(record) > this.read(acc) ? record : acc);
    }
  }

  processElement(record: unknown): void {
    const key = canonicalKey(this.keyOf(record));
    const slot = this.values.get(key);
    if (slot === undefined) {
      this.read(record);
      this.values.set(key, { value: record });
      this.output.collect(record);
      return;
    }
    const next = this.combine(slot.value, record);
    slot.value = next;
    this.output.collect(next);
  }

  private read(record: unknown): number {
    const v = this.field === null ? record : (record as Record<string | number, unknown>)?.[this.field];
    if (typeof v !== "number") throw new Error(`${this.type}(${this.field ?? ""}) needs a number, got ${JSON.stringify(v)}`);
    return v;
  }

  private write(acc: unknown, value: number): unknown {
    if (this.field === null) return value;
    // A copy, never the accumulator itself: emitted records may still be held downstream.
    if (Array.isArray(acc)) {
      const copy = acc.slice();
      copy[this.field as number] = value;
      return copy;
    }
    const copy = { ...(acc as Record<string | number, unknown>) };
    copy[this.field] = value;
    return copy;
  }
}

export class KeyedProcessOperator extends KeyedOperator {
  private readonly fn: (v: unknown, ctx: KeyedProcessContext<unknown>, out: Collector<unknown>) => void;
  private readonly collector: Collector<unknown> = { collect: (r) => this.output.collect(r) };
  private currentKey: unknown;
  private readonly context: KeyedProcessContext<unknown> = {
    timestamp: undefined,
    getCurrentKey: () => this.currentKey,
  };

  constructor(
    private readonly userFunction: unknown,
    keySelector: unknown,
  ) {
    super(keySelector);
    this.fn = callable(userFunction, "processElement", "a keyed process function");
  }

  override async open(rt: OperatorRuntime): Promise<void> {
    await openFunction(this.userFunction, rt.ctx);
  }

  override async close(): Promise<void> {
    await closeFunction(this.userFunction);
  }

  processElement(record: unknown): void {
    this.currentKey = this.keyOf(record);
    this.fn(record, this.context, this.collector);
  }
}
