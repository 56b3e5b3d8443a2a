import { RiffleError } from "@riffle/shared";
import {
  type AggregatingStateDescriptor,
  type ListStateDescriptor,
  type MapStateDescriptor,
  ReducingStateDescriptor,
  type ValueStateDescriptor,
} from "../state/descriptors.js";
import type { AggregatingState, ListState, MapState, ReducingState, ValueState } from "../state/state.js";
import type { Window } from "./windows.js";
import { durationMs, type Duration } from "./windows.js";

/**
 * What a trigger decides for a window (Flink's TriggerResult): `FIRE` evaluates the window function
 * over the window's contents and keeps them; `PURGE` drops the contents (the window itself, its trigger
 * state and timers stay until its cleanup time); `FIRE_AND_PURGE` does both.
 */
export const TriggerResult = {
  CONTINUE: "CONTINUE",
  FIRE: "FIRE",
  PURGE: "PURGE",
  FIRE_AND_PURGE: "FIRE_AND_PURGE",
} as const;
export type TriggerResult = (typeof TriggerResult)[keyof typeof TriggerResult];

/** @internal */
export function isFire(r: TriggerResult): boolean {
  return r === "FIRE" || r === "FIRE_AND_PURGE";
}

/** @internal */
export function isPurge(r: TriggerResult): boolean {
  return r === "PURGE" || r === "FIRE_AND_PURGE";
}

/**
 * What a trigger can do for the window it is called for. Timers belong to the current key and
 * window: when one fires, the trigger's onEventTime/onProcessingTime runs for that window. State from
 * getPartitionedState is scoped to the key and window and is valid during the current call.
 */
export interface TriggerContext {
  getCurrentProcessingTime(): number;
  getCurrentWatermark(): number;
  registerProcessingTimeTimer(time: number): void;
  registerEventTimeTimer(time: number): void;
  deleteProcessingTimeTimer(time: number): void;
  deleteEventTimeTimer(time: number): void;
  getPartitionedState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T>;
  getPartitionedState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  getPartitionedState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T>;
  getPartitionedState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V>;
  getPartitionedState<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT>;
}

/** The context of {@link Trigger.onMerge}: the window is the merge result. */
export interface OnMergeContext extends TriggerContext {
  /**
   * Merges the trigger state `descriptor` of the windows being merged into the merge result's (reducing
   * state: by the reduce function; list state: concatenated in window order).
   */
  mergePartitionedState(descriptor: ReducingStateDescriptor<unknown> | ListStateDescriptor<unknown>): void;
}

/**
 * Decides when a window is evaluated and when its contents are dropped (Flink's Trigger). A trigger
 * object is shared by every key and window of a subtask: keep what it must remember in
 * `ctx.getPartitionedState(...)`, never in its own fields.
 *
 * ```ts
 * class EveryTenth extends Trigger<Click, GlobalWindow> {
 *   private readonly count = new ReducingStateDescriptor<number>("count", (a, b) => a + b);
 *   onElement(_c: Click, _ts: number | undefined, _w: GlobalWindow, ctx: TriggerContext) {
 *     const n = ctx.getPartitionedState(this.count);
 *     n.add(1);
 *     if (n.get()! < 10) return TriggerResult.CONTINUE;
 *     n.clear();
 *     return TriggerResult.FIRE_AND_PURGE;
 *   }
 *   onEventTime() { return TriggerResult.CONTINUE; }
 *   onProcessingTime() { return TriggerResult.CONTINUE; }
 *   clear(_w: GlobalWindow, ctx: TriggerContext) { ctx.getPartitionedState(this.count).clear(); }
 * }
 * ```
 */
export abstract class Trigger<T, W extends Window> {
  /** Called for every element added to `window`; `timestamp` is the element's event time, if it has one. */
  abstract onElement(element: T, timestamp: number | undefined, window: W, ctx: TriggerContext): TriggerResult;
  /** An event-time timer the trigger (or the window's cleanup) set for `window` fired. */
  abstract onEventTime(time: number, window: W, ctx: TriggerContext): TriggerResult;
  /** A processing-time timer the trigger (or the window's cleanup) set for `window` fired. */
  abstract onProcessingTime(time: number, window: W, ctx: TriggerContext): TriggerResult;
  /** The window is removed (its cleanup time passed, or it was merged away): delete its timers and state. */
  abstract clear(window: W, ctx: TriggerContext): void;

  /** Whether the trigger supports merging windows (sessions); then it implements onMerge. */
  canMerge(): boolean {
    return false;
  }

  /** Windows were merged into `window`: re-register timers and merge state for it. */
  onMerge(_window: W, _ctx: OnMergeContext): void {
    throw new RiffleError("JOB_INVALID_GRAPH", `${this.toString()} does not support merging windows`);
  }

  toString(): string {
    return this.constructor.name;
  }
}

/**
 * Fires once the watermark passes the window's end (the default of event-time windows). With allowed
 * lateness, every late element that still belongs to the window fires it again at once.
 */
export class EventTimeTrigger extends Trigger<unknown, Window> {
  private static readonly instance = new EventTimeTrigger();

  static create(): EventTimeTrigger {
    return EventTimeTrigger.instance;
  }

  onElement(_e: unknown, _ts: number | undefined, window: Window, ctx: TriggerContext): TriggerResult {
    if (window.maxTimestamp() <= ctx.getCurrentWatermark()) return TriggerResult.FIRE;
    ctx.registerEventTimeTimer(window.maxTimestamp());
    return TriggerResult.CONTINUE;
  }

  onEventTime(time: number, window: Window): TriggerResult {
    return time === window.maxTimestamp() ? TriggerResult.FIRE : TriggerResult.CONTINUE;
  }

  onProcessingTime(): TriggerResult {
    return TriggerResult.CONTINUE;
  }

  clear(window: Window, ctx: TriggerContext): void {
    ctx.deleteEventTimeTimer(window.maxTimestamp());
  }

  override canMerge(): boolean {
    return true;
  }

  override onMerge(window: Window, ctx: OnMergeContext): void {
    // Only a timer that can still fire: an end already behind the watermark would fire the window at
    // once, which onElement does if an element arrives.
    if (window.maxTimestamp() > ctx.getCurrentWatermark()) ctx.registerEventTimeTimer(window.maxTimestamp());
  }
}

/** Fires once the processing-time clock passes the window's end (the default of processing-time windows). */
export class ProcessingTimeTrigger extends Trigger<unknown, Window> {
  private static readonly instance = new ProcessingTimeTrigger();

  static create(): ProcessingTimeTrigger {
    return ProcessingTimeTrigger.instance;
  }

  onElement(_e: unknown, _ts: number | undefined, window: Window, ctx: TriggerContext): TriggerResult {
    ctx.registerProcessingTimeTimer(window.maxTimestamp());
    return TriggerResult.CONTINUE;
  }

  onEventTime(): TriggerResult {
    return TriggerResult.CONTINUE;
  }

  onProcessingTime(): TriggerResult {
    return TriggerResult.FIRE;
  }

  clear(window: Window, ctx: TriggerContext): void {
    ctx.deleteProcessingTimeTimer(window.maxTimestamp());
  }

  override canMerge(): boolean {
    return true;
  }

  override onMerge(window: Window, ctx: OnMergeContext): void {
    if (window.maxTimestamp() > ctx.getCurrentProcessingTime()) ctx.registerProcessingTimeTimer(window.maxTimestamp());
  }
}

const sum = (a: number, b: number) => a + b;
const min = (a: number, b: number) => Math.min(a, b);

/** Fires when the window holds `maxCount` elements (counted since its last fire). */
export class CountTrigger extends Trigger<unknown, Window> {
  private readonly count = new ReducingStateDescriptor<number>("_trigger/count", sum);

  private constructor(private readonly maxCount: number) {
    super();
  }

  static of(maxCount: number): CountTrigger {
    if (!Number.isInteger(maxCount) || maxCount < 1) throw new RiffleError("JOB_INVALID_GRAPH", `CountTrigger.of needs a positive integer, got ${maxCount}`);
    return new CountTrigger(maxCount);
  }

  onElement(_e: unknown, _ts: number | undefined, _w: Window, ctx: TriggerContext): TriggerResult {
    const count = ctx.getPartitionedState(this.count);
    count.add(1);
    if (count.get()! >= this.maxCount) {
      count.clear();
      return TriggerResult.FIRE;
    }
    return TriggerResult.CONTINUE;
  }

  onEventTime(): TriggerResult {
    return TriggerResult.CONTINUE;
  }

  onProcessingTime(): TriggerResult {
    return TriggerResult.CONTINUE;
  }

  clear(_w: Window, ctx: TriggerContext): void {
    ctx.getPartitionedState(this.count).clear();
  }

  override canMerge(): boolean {
    return true;
  }

  override onMerge(_w: Window, ctx: OnMergeContext): void {
    ctx.mergePartitionedState(this.count as ReducingStateDescriptor<unknown>);
  }

  override toString(): string {
    return `CountTrigger(${this.maxCount})`;
  }
}

/**
 * What the continuous triggers share: the next fire time in per-window state (a minimum, so merged
 * windows keep the earliest), a timer for it in the trigger's time domain, and the next interval
 * registered when it fires.
 */
abstract class ContinuousTrigger extends Trigger<unknown, Window> {
  private readonly fireTime = new ReducingStateDescriptor<number>("_trigger/fire-time", min);

  protected constructor(protected readonly interval: number) {
    super();
  }

  /** The class name for toString (bundlers may rename classes). */
  protected abstract readonly kind: string;
  protected abstract registerTimer(ctx: TriggerContext, time: number): void;
  protected abstract deleteTimer(ctx: TriggerContext, time: number): void;

  /** Schedules the first fire, at the end of the interval holding `time`, unless one is scheduled. */
  protected startFrom(time: number, window: Window, ctx: TriggerContext): void {
    const fireTime = ctx.getPartitionedState(this.fireTime);
    if (fireTime.get() === undefined) this.registerNext(time - (time % this.interval), window, ctx, fireTime);
  }

  /** A timer of the trigger's domain fired at `time`: FIRE when it is the scheduled one, and schedule the next. */
  protected onScheduled(time: number, window: Window, ctx: TriggerContext): TriggerResult {
    const fireTime = ctx.getPartitionedState(this.fireTime);
    if (fireTime.get() !== time) return TriggerResult.CONTINUE;
    fireTime.clear();
    this.registerNext(time, window, ctx, fireTime);
    return TriggerResult.FIRE;
  }

  clear(_w: Window, ctx: TriggerContext): void {
    const fireTime = ctx.getPartitionedState(this.fireTime);
    const t = fireTime.get();
    if (t !== undefined) {
      this.deleteTimer(ctx, t);
      fireTime.clear();
    }
  }

  override canMerge(): boolean {
    return true;
  }

  override onMerge(_w: Window, ctx: OnMergeContext): void {
    ctx.mergePartitionedState(this.fireTime as ReducingStateDescriptor<unknown>);
    const next = ctx.getPartitionedState(this.fireTime).get();
    if (next !== undefined) this.registerTimer(ctx, next);
  }

  private registerNext(time: number, window: Window, ctx: TriggerContext, fireTime: ReducingState<number>): void {
    const next = Math.min(time + this.interval, window.maxTimestamp());
    fireTime.add(next);
    this.registerTimer(ctx, next);
  }

  override toString(): string {
    return `${this.kind}(${this.interval})`;
  }
}

function positiveInterval(interval: Duration, what: string): number {
  const ms = durationMs(interval, what);
  if (ms <= 0) throw new RiffleError("JOB_INVALID_GRAPH", `${what} needs a positive interval, got ${ms}`);
  return ms;
}

/**
 * Fires every `interval` of event time while the window is open (early results), and at its end.
 * The first fire is at the end of the interval holding the window's first element.
 */
export class ContinuousEventTimeTrigger extends ContinuousTrigger {
  protected readonly kind = "ContinuousEventTimeTrigger";

  static of(interval: Duration): ContinuousEventTimeTrigger {
    return new ContinuousEventTimeTrigger(positiveInterval(interval, "ContinuousEventTimeTrigger.of"));
  }

  onElement(_e: unknown, timestamp: number | undefined, window: Window, ctx: TriggerContext): TriggerResult {
    if (window.maxTimestamp() <= ctx.getCurrentWatermark()) return TriggerResult.FIRE;
    ctx.registerEventTimeTimer(window.maxTimestamp());
    this.startFrom(timestamp ?? ctx.getCurrentWatermark(), window, ctx);
    return TriggerResult.CONTINUE;
  }

  onEventTime(time: number, window: Window, ctx: TriggerContext): TriggerResult {
    if (time === window.maxTimestamp()) return TriggerResult.FIRE;
    return this.onScheduled(time, window, ctx);
  }

  onProcessingTime(): TriggerResult {
    return TriggerResult.CONTINUE;
  }

  protected registerTimer(ctx: TriggerContext, time: number): void {
    ctx.registerEventTimeTimer(time);
  }

  protected deleteTimer(ctx: TriggerContext, time: number): void {
    ctx.deleteEventTimeTimer(time);
  }
}

/** Fires every `interval` of processing time while the window is open, aligned to multiples of the interval. */
export class ContinuousProcessingTimeTrigger extends ContinuousTrigger {
  protected readonly kind = "ContinuousProcessingTimeTrigger";

  static of(interval: Duration): ContinuousProcessingTimeTrigger {
    return new ContinuousProcessingTimeTrigger(positiveInterval(interval, "ContinuousProcessingTimeTrigger.of"));
  }

  onElement(_e: unknown, _ts: number | undefined, window: Window, ctx: TriggerContext): TriggerResult {
    this.startFrom(ctx.getCurrentProcessingTime(), window, ctx);
    return TriggerResult.CONTINUE;
  }

  onEventTime(): TriggerResult {
    return TriggerResult.CONTINUE;
  }

  onProcessingTime(time: number, window: Window, ctx: TriggerContext): TriggerResult {
    return this.onScheduled(time, window, ctx);
  }

  protected registerTimer(ctx: TriggerContext, time: number): void {
    ctx.registerProcessingTimeTimer(time);
  }

  protected deleteTimer(ctx: TriggerContext, time: number): void {
    ctx.deleteProcessingTimeTimer(time);
  }
}

/** Turns every FIRE of the wrapped trigger into FIRE_AND_PURGE: each evaluation sees only the elements since the last one. */
export class PurgingTrigger<T, W extends Window> extends Trigger<T, W> {
  private constructor(readonly nested: Trigger<T, W>) {
    super();
  }

  static of<T, W extends Window>(nested: Trigger<T, W>): PurgingTrigger<T, W> {
    checkTrigger(nested);
    return new PurgingTrigger(nested);
  }

  onElement(element: T, timestamp: number | undefined, window: W, ctx: TriggerContext): TriggerResult {
    return purging(this.nested.onElement(element, timestamp, window, ctx));
  }

  onEventTime(time: number, window: W, ctx: TriggerContext): TriggerResult {
    return purging(this.nested.onEventTime(time, window, ctx));
  }

  onProcessingTime(time: number, window: W, ctx: TriggerContext): TriggerResult {
    return purging(this.nested.onProcessingTime(time, window, ctx));
  }

  clear(window: W, ctx: TriggerContext): void {
    this.nested.clear(window, ctx);
  }

  override canMerge(): boolean {
    return this.nested.canMerge();
  }

  override onMerge(window: W, ctx: OnMergeContext): void {
    this.nested.onMerge(window, ctx);
  }

  override toString(): string {
    return `PurgingTrigger(${this.nested.toString()})`;
  }
}

function purging(r: TriggerResult): TriggerResult {
  return isFire(r) ? TriggerResult.FIRE_AND_PURGE : r;
}

/** Never fires: the default trigger of {@link GlobalWindows}, which needs a trigger of its own. */
export class NeverTrigger extends Trigger<unknown, Window> {
  private static readonly instance = new NeverTrigger();

  static create(): NeverTrigger {
    return NeverTrigger.instance;
  }

  onElement(): TriggerResult {
    return TriggerResult.CONTINUE;
  }

  onEventTime(): TriggerResult {
    return TriggerResult.CONTINUE;
  }

  onProcessingTime(): TriggerResult {
    return TriggerResult.CONTINUE;
  }

  clear(): void {}

  override canMerge(): boolean {
    return true;
  }

  override onMerge(): void {}
}

/** @internal fails fast on something that is not a trigger. */
export function checkTrigger(trigger: unknown): void {
  const t = trigger as Partial<Record<string, unknown>> | null;
  for (const m of ["onElement", "onEventTime", "onProcessingTime", "clear"]) {
    if (typeof t?.[m] !== "function") throw new RiffleError("JOB_INVALID_GRAPH", `a trigger needs an ${m}() method`);
  }
}
