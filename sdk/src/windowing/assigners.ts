import { RiffleError } from "@riffle/shared";
import { EventTimeTrigger, NeverTrigger, ProcessingTimeTrigger, type Trigger } from "./triggers.js";
import { type Duration, GlobalWindow, TimeWindow, type Window, durationMs } from "./windows.js";

/** What an assigner may ask of the operator. */
export interface WindowAssignerContext {
  getCurrentProcessingTime(): number;
}

/**
 * Puts each element into zero or more windows (Flink's WindowAssigner). Event-time assigners use the
 * element's timestamp (the stream needs a WatermarkStrategy); processing-time assigners the clock.
 */
export abstract class WindowAssigner<T, W extends Window> {
  abstract assignWindows(element: T, timestamp: number | undefined, ctx: WindowAssignerContext): W[];
  /** The trigger used unless the windowed stream sets one. */
  abstract getDefaultTrigger(): Trigger<T, W>;
  /** Whether windows are in event time: then lateness applies and cleanup follows the watermark. */
  abstract isEventTime(): boolean;

  toString(): string {
    return this.constructor.name;
  }
}

/** An assigner whose windows can merge as elements arrive (sessions). */
export abstract class MergingWindowAssigner<T> extends WindowAssigner<T, TimeWindow> {
  /** Calls `merge(group, result)` for every group of `windows` that should become one window. */
  abstract mergeWindows(windows: readonly TimeWindow[], merge: (toBeMerged: TimeWindow[], mergeResult: TimeWindow) => void): void;
}

function eventTimeOf(timestamp: number | undefined, assigner: string): number {
  if (timestamp === undefined) {
    throw new Error(
      `${assigner}: a record has no timestamp. Event-time windows need timestamps: give the source a WatermarkStrategy with a timestamp assigner (env.fromSource(source, strategy)) or call assignTimestampsAndWatermarks, or use processing-time windows`,
    );
  }
  return timestamp;
}

function positive(value: Duration, what: string): number {
  const ms = durationMs(value, what);
  if (ms <= 0) throw new RiffleError("JOB_INVALID_GRAPH", `${what}: the size must be > 0, got ${ms}`);
  return ms;
}

/**
 * Fixed-size, non-overlapping windows of event time: `[k * size + offset, (k + 1) * size + offset)`.
 *
 * ```ts
 * stream.keyBy(o => o.customerId).window(TumblingEventTimeWindows.of(Time.minutes(15))).aggregate(totals);
 * ```
 */
export class TumblingEventTimeWindows extends WindowAssigner<unknown, TimeWindow> {
  protected constructor(
    readonly size: number,
    readonly offset: number,
  ) {
    super();
  }

  /** Windows of `size`, shifted by `offset` (`|offset| < size`; e.g. `-8h` for days starting at midnight UTC+8). */
  static of(size: Duration, offset: Duration = 0): TumblingEventTimeWindows {
    const [s, o] = tumbling(size, offset, "TumblingEventTimeWindows");
    return new TumblingEventTimeWindows(s, o);
  }

  assignWindows(_e: unknown, timestamp: number | undefined): TimeWindow[] {
    const start = TimeWindow.getWindowStartWithOffset(eventTimeOf(timestamp, "TumblingEventTimeWindows"), this.offset, this.size);
    return [new TimeWindow(start, start + this.size)];
  }

  getDefaultTrigger(): Trigger<unknown, TimeWindow> {
    return EventTimeTrigger.create();
  }

  isEventTime(): boolean {
    return true;
  }

  override toString(): string {
    return `TumblingEventTimeWindows(${this.size})`;
  }
}

/** Fixed-size, non-overlapping windows of processing time (the clock when the element arrives). */
export class TumblingProcessingTimeWindows extends WindowAssigner<unknown, TimeWindow> {
  protected constructor(
    readonly size: number,
    readonly offset: number,
  ) {
    super();
  }

  static of(size: Duration, offset: Duration = 0): TumblingProcessingTimeWindows {
    const [s, o] = tumbling(size, offset, "TumblingProcessingTimeWindows");
    return new TumblingProcessingTimeWindows(s, o);
  }

  assignWindows(_e: unknown, _ts: number | undefined, ctx: WindowAssignerContext): TimeWindow[] {
    const start = TimeWindow.getWindowStartWithOffset(ctx.getCurrentProcessingTime(), this.offset, this.size);
    return [new TimeWindow(start, start + this.size)];
  }

  getDefaultTrigger(): Trigger<unknown, TimeWindow> {
    return ProcessingTimeTrigger.create();
  }

  isEventTime(): boolean {
    return false;
  }

  override toString(): string {
    return `TumblingProcessingTimeWindows(${this.size})`;
  }
}

function tumbling(size: Duration, offset: Duration, what: string): [number, number] {
  const s = positive(size, `${what}.of`);
  const o = durationMs(offset, `${what}.of offset`, true);
  if (Math.abs(o) >= s) throw new RiffleError("JOB_INVALID_GRAPH", `${what} parameters must satisfy abs(offset) < size, got size ${s} and offset ${o}`);
  return [s, o];
}

function sliding(size: Duration, slide: Duration, offset: Duration, what: string): [number, number, number] {
  const s = positive(size, `${what}.of`);
  const sl = positive(slide, `${what}.of slide`);
  const o = durationMs(offset, `${what}.of offset`, true);
  if (Math.abs(o) >= sl) throw new RiffleError("JOB_INVALID_GRAPH", `${what} parameters must satisfy abs(offset) < slide, got slide ${sl} and offset ${o}`);
  return [s, sl, o];
}

/** Windows of `size` starting every `slide` (hopping windows): an element belongs to about size/slide windows. */
function slidingWindows(timestamp: number, size: number, slide: number, offset: number): TimeWindow[] {
  const windows: TimeWindow[] = [];
  const lastStart = TimeWindow.getWindowStartWithOffset(timestamp, offset, slide);
  for (let start = lastStart; start > timestamp - size; start -= slide) windows.push(new TimeWindow(start, start + size));
  return windows;
}

/**
 * Windows of event time of `size` that start every `slide`, so they overlap when slide < size.
 * With `reduce` or `aggregate` (and the default trigger, no evictor), Riffle keeps one partial
 * aggregate per slice of gcd(size, slide) instead of one per window, so each element updates one
 * accumulator however many windows hold it.
 */
export class SlidingEventTimeWindows extends WindowAssigner<unknown, TimeWindow> {
  protected constructor(
    readonly size: number,
    readonly slide: number,
    readonly offset: number,
  ) {
    super();
  }

  static of(size: Duration, slide: Duration, offset: Duration = 0): SlidingEventTimeWindows {
    const [s, sl, o] = sliding(size, slide, offset, "SlidingEventTimeWindows");
    return new SlidingEventTimeWindows(s, sl, o);
  }

  assignWindows(_e: unknown, timestamp: number | undefined): TimeWindow[] {
    return slidingWindows(eventTimeOf(timestamp, "SlidingEventTimeWindows"), this.size, this.slide, this.offset);
  }

  getDefaultTrigger(): Trigger<unknown, TimeWindow> {
    return EventTimeTrigger.create();
  }

  isEventTime(): boolean {
    return true;
  }

  override toString(): string {
    return `SlidingEventTimeWindows(${this.size}, ${this.slide})`;
  }
}

/**
 * Windows of processing time of `size` that start every `slide`. As with
 * {@link SlidingEventTimeWindows}, `reduce` or `aggregate` (with the default trigger, no evictor)
 * keeps one partial aggregate per slice; a window then fires once the clock reaches its end.
 */
export class SlidingProcessingTimeWindows extends WindowAssigner<unknown, TimeWindow> {
  protected constructor(
    readonly size: number,
    readonly slide: number,
    readonly offset: number,
  ) {
    super();
  }

  static of(size: Duration, slide: Duration, offset: Duration = 0): SlidingProcessingTimeWindows {
    const [s, sl, o] = sliding(size, slide, offset, "SlidingProcessingTimeWindows");
    return new SlidingProcessingTimeWindows(s, sl, o);
  }

  assignWindows(_e: unknown, _ts: number | undefined, ctx: WindowAssignerContext): TimeWindow[] {
    return slidingWindows(ctx.getCurrentProcessingTime(), this.size, this.slide, this.offset);
  }

  getDefaultTrigger(): Trigger<unknown, TimeWindow> {
    return ProcessingTimeTrigger.create();
  }

  isEventTime(): boolean {
    return false;
  }

  override toString(): string {
    return `SlidingProcessingTimeWindows(${this.size}, ${this.slide})`;
  }
}

/** Computes the session gap of an element (dynamic gaps), in ms; must be > 0. */
export type SessionWindowTimeGapExtractor<T> = (element: T) => number;

function gapOf<T>(extractor: SessionWindowTimeGapExtractor<T>, element: T): number {
  const gap = extractor(element);
  if (typeof gap !== "number" || !(gap > 0)) throw new Error(`a dynamic session gap must be a number > 0, got ${String(gap)}`);
  return gap;
}

/**
 * Sessions of event time: an element opens `[timestamp, timestamp + gap)`, and windows that overlap
 * or touch merge, so a session ends after `gap` without elements of its key.
 */
export class EventTimeSessionWindows<T = unknown> extends MergingWindowAssigner<T> {
  protected constructor(
    private readonly gap: number | undefined,
    private readonly extractor: SessionWindowTimeGapExtractor<T> | undefined,
  ) {
    super();
  }

  static withGap(gap: Duration): EventTimeSessionWindows {
    return new EventTimeSessionWindows(positive(gap, "EventTimeSessionWindows.withGap"), undefined);
  }

  /** A gap per element (e.g. from a field): `EventTimeSessionWindows.withDynamicGap((e: Click) => e.premium ? 60_000 : 10_000)`. */
  static withDynamicGap<T>(extractor: SessionWindowTimeGapExtractor<T>): EventTimeSessionWindows<T> {
    if (typeof extractor !== "function") throw new RiffleError("JOB_INVALID_GRAPH", "withDynamicGap needs a function from element to gap (ms)");
    return new EventTimeSessionWindows<T>(undefined, extractor);
  }

  assignWindows(element: T, timestamp: number | undefined): TimeWindow[] {
    const ts = eventTimeOf(timestamp, "EventTimeSessionWindows");
    return [new TimeWindow(ts, ts + (this.gap ?? gapOf(this.extractor!, element)))];
  }

  mergeWindows(windows: readonly TimeWindow[], merge: (toBeMerged: TimeWindow[], mergeResult: TimeWindow) => void): void {
    TimeWindow.mergeWindows(windows, merge);
  }

  getDefaultTrigger(): Trigger<T, TimeWindow> {
    return EventTimeTrigger.create();
  }

  isEventTime(): boolean {
    return true;
  }

  override toString(): string {
    return `EventTimeSessionWindows(${this.gap ?? "dynamic"})`;
  }
}

/** Sessions of processing time: a session ends after `gap` of the clock without elements of its key. */
export class ProcessingTimeSessionWindows<T = unknown> extends MergingWindowAssigner<T> {
  protected constructor(
    private readonly gap: number | undefined,
    private readonly extractor: SessionWindowTimeGapExtractor<T> | undefined,
  ) {
    super();
  }

  static withGap(gap: Duration): ProcessingTimeSessionWindows {
    return new ProcessingTimeSessionWindows(positive(gap, "ProcessingTimeSessionWindows.withGap"), undefined);
  }

  static withDynamicGap<T>(extractor: SessionWindowTimeGapExtractor<T>): ProcessingTimeSessionWindows<T> {
    if (typeof extractor !== "function") throw new RiffleError("JOB_INVALID_GRAPH", "withDynamicGap needs a function from element to gap (ms)");
    return new ProcessingTimeSessionWindows<T>(undefined, extractor);
  }

  assignWindows(element: T, _ts: number | undefined, ctx: WindowAssignerContext): TimeWindow[] {
    const now = ctx.getCurrentProcessingTime();
    return [new TimeWindow(now, now + (this.gap ?? gapOf(this.extractor!, element)))];
  }

  mergeWindows(windows: readonly TimeWindow[], merge: (toBeMerged: TimeWindow[], mergeResult: TimeWindow) => void): void {
    TimeWindow.mergeWindows(windows, merge);
  }

  getDefaultTrigger(): Trigger<T, TimeWindow> {
    return ProcessingTimeTrigger.create();
  }

  isEventTime(): boolean {
    return false;
  }

  override toString(): string {
    return `ProcessingTimeSessionWindows(${this.gap ?? "dynamic"})`;
  }
}

/**
 * One window per key holding all its elements. Its default trigger never fires: set one (e.g.
 * `CountTrigger.of(100)`), as `countWindow` does.
 */
export class GlobalWindows extends WindowAssigner<unknown, GlobalWindow> {
  private static readonly instance = new GlobalWindows();
  private static readonly windows = [GlobalWindow.get()];

  static create(): GlobalWindows {
    return GlobalWindows.instance;
  }

  assignWindows(): GlobalWindow[] {
    return GlobalWindows.windows;
  }

  getDefaultTrigger(): Trigger<unknown, GlobalWindow> {
    return NeverTrigger.create();
  }

  isEventTime(): boolean {
    return false;
  }

  override toString(): string {
    return "GlobalWindows()";
  }
}
