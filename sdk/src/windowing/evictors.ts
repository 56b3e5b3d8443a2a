import { RiffleError } from "@riffle/shared";
import type { Window } from "./windows.js";
import { durationMs, type Duration } from "./windows.js";

/** An element of a window with its event-time timestamp (undefined when it has none). */
export interface TimestampedValue<T> {
  readonly value: T;
  readonly timestamp: number | undefined;
}

export interface EvictorContext {
  getCurrentProcessingTime(): number;
  getCurrentWatermark(): number;
}

/**
 * Removes elements from a window when it fires (Flink's Evictor): `evictBefore` runs before the window
 * function, `evictAfter` after it. Both change `elements` in place (splice out what to evict); what is
 * left stays in the window. A window with an evictor keeps all its elements (no incremental
 * aggregation), since evicting needs them.
 */
export interface Evictor<T, W extends Window> {
  evictBefore(elements: TimestampedValue<T>[], window: W, ctx: EvictorContext): void;
  evictAfter(elements: TimestampedValue<T>[], window: W, ctx: EvictorContext): void;
}

/** Keeps the last `maxCount` elements of the window (by arrival). */
export class CountEvictor implements Evictor<unknown, Window> {
  private constructor(
    private readonly maxCount: number,
    private readonly doEvictAfter: boolean,
  ) {}

  /** `doEvictAfter`: evict after the window function instead of before it. */
  static of(maxCount: number, doEvictAfter = false): CountEvictor {
    if (!Number.isInteger(maxCount) || maxCount < 0) throw new RiffleError("JOB_INVALID_GRAPH", `CountEvictor.of needs a count >= 0, got ${maxCount}`);
    return new CountEvictor(maxCount, doEvictAfter);
  }

  evictBefore(elements: TimestampedValue<unknown>[]): void {
    if (!this.doEvictAfter) this.evict(elements);
  }

  evictAfter(elements: TimestampedValue<unknown>[]): void {
    if (this.doEvictAfter) this.evict(elements);
  }

  private evict(elements: TimestampedValue<unknown>[]): void {
    if (elements.length > this.maxCount) elements.splice(0, elements.length - this.maxCount);
  }

  toString(): string {
    return `CountEvictor(${this.maxCount})`;
  }
}

/**
 * Keeps the elements within `windowSize` of the newest element's timestamp: evicts those with
 * `timestamp <= max - windowSize`. Does nothing when the elements carry no timestamps.
 */
export class TimeEvictor implements Evictor<unknown, Window> {
  private constructor(
    private readonly windowSize: number,
    private readonly doEvictAfter: boolean,
  ) {}

  static of(windowSize: Duration, doEvictAfter = false): TimeEvictor {
    return new TimeEvictor(durationMs(windowSize, "TimeEvictor.of"), doEvictAfter);
  }

  evictBefore(elements: TimestampedValue<unknown>[]): void {
    if (!this.doEvictAfter) this.evict(elements);
  }

  evictAfter(elements: TimestampedValue<unknown>[]): void {
    if (this.doEvictAfter) this.evict(elements);
  }

  private evict(elements: TimestampedValue<unknown>[]): void {
    if (elements.length === 0 || elements[0]!.timestamp === undefined) return;
    let max = Number.NEGATIVE_INFINITY;
    for (const e of elements) if (e.timestamp !== undefined && e.timestamp > max) max = e.timestamp;
    const cutoff = max - this.windowSize;
    let w = 0;
    for (let r = 0; r < elements.length; r++) {
      const e = elements[r]!;
      if (e.timestamp === undefined || e.timestamp > cutoff) elements[w++] = e;
    }
    elements.length = w;
  }

  toString(): string {
    return `TimeEvictor(${this.windowSize})`;
  }
}

/**
 * Evicts the elements whose `delta(element, last)` to the last element of the window is at least
 * `threshold` (Flink's DeltaEvictor).
 */
export class DeltaEvictor<T> implements Evictor<T, Window> {
  private constructor(
    private readonly threshold: number,
    private readonly delta: (a: T, b: T) => number,
    private readonly doEvictAfter: boolean,
  ) {}

  static of<T>(threshold: number, delta: (a: T, b: T) => number, doEvictAfter = false): DeltaEvictor<T> {
    if (typeof delta !== "function") throw new RiffleError("JOB_INVALID_GRAPH", "DeltaEvictor.of needs a delta function");
    return new DeltaEvictor(threshold, delta, doEvictAfter);
  }

  evictBefore(elements: TimestampedValue<T>[]): void {
    if (!this.doEvictAfter) this.evict(elements);
  }

  evictAfter(elements: TimestampedValue<T>[]): void {
    if (this.doEvictAfter) this.evict(elements);
  }

  private evict(elements: TimestampedValue<T>[]): void {
    if (elements.length === 0) return;
    const last = elements[elements.length - 1]!.value;
    let w = 0;
    for (let r = 0; r < elements.length; r++) {
      const e = elements[r]!;
      if (this.delta(e.value, last) < this.threshold) elements[w++] = e;
    }
    elements.length = w;
  }

  toString(): string {
    return `DeltaEvictor(${this.threshold})`;
  }
}

/** @internal fails fast on something that is not an evictor. */
export function checkEvictor(evictor: unknown): void {
  const e = evictor as Partial<Record<string, unknown>> | null;
  for (const m of ["evictBefore", "evictAfter"]) {
    if (typeof e?.[m] !== "function") throw new RiffleError("JOB_INVALID_GRAPH", `an evictor needs an ${m}() method`);
  }
}
