import { MAX_WATERMARK, type OperatorRuntime, type OperatorStateContext } from "../operators/operator.js";
import { DEFAULT_NAMESPACE } from "../state/backend.js";
import { ValueStateDescriptor } from "../state/descriptors.js";
import type { ValueState } from "../state/state.js";
import type { InternalTimer } from "../time/timer-service.js";
import { type WindowFunctionSpec, combineHooks } from "./window-function.js";
import { WindowOperatorBase } from "./window-operator-base.js";
import { TimeWindow, windowNamespace } from "./windows.js";

export interface SlicingWindowOperatorOptions {
  keySelector: unknown;
  size: number;
  slide: number;
  offset: number;
  /**
   * Event time: slices by the record's timestamp, fires on the watermark. Processing time: slices by
   * the clock when the record arrives, fires on processing-time timers; lateness does not apply.
   */
  eventTime: boolean;
  /** Event time only (as in the per-window operator). */
  allowedLateness: number;
  lateDataTag: string | undefined;
  /** reduce, or aggregate with a merge function. */
  fn: Extract<WindowFunctionSpec, { kind: "reduce" | "aggregate" }>;
  userFunctions: readonly unknown[];
}

/**
 * Timer namespaces: fire a window (the one ending at timestamp + 1 in event time, at timestamp in
 * processing time); clean up the window whose cleanup time it is (event time with lateness only).
 */
const FIRE = "fire";
const CLEANUP = "cleanup";

/** Greatest common divisor of two positive integers: the slice width. */
export function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * Sliding windows with an incremental reduce or aggregate, by slices (panes): time is cut
 * into slices of gcd(size, slide), each key keeps one partial aggregate per slice, and a window is the
 * combination of its size/gcd slices when it fires. An element costs one state update however many
 * windows hold it (the per-window operator costs size/slide updates).
 *
 * ```
 *  slices   |s0 |s1 |s2 |s3 |s4 |s5 |        size = 4 slices, slide = 2 slices
 *  windows  [s0 ......... s3]
 *                   [s2 ......... s5]
 * ```
 *
 * A key's slices are one value in keyed state (the default namespace): `[start, partial, start,
 * partial, ...]` ascending by start, so an element and a fire each cost one state lookup; a fire
 * combines the slices in memory. (One namespace per slice would cost size/gcd lookups per fire.)
 *
 * In event time, results equal Flink's per-window operator with the event-time trigger (same
 * windows, values, timestamps and lateness behaviour) for associative and commutative functions. Per
 * key, timers chain: the fire of the window ending at e schedules the one ending at e + slide while a
 * slice of it holds data; a slice is dropped at the cleanup time of the last window that holds it.
 * Slices and timers are keyed state and timers, so they are checkpointed, restored and rescaled with
 * the key.
 *
 * In processing time, a record belongs to the slice of the clock when it arrives, and the window
 * ending at e fires on a processing-time timer at e (the result still carries e - 1), not at e - 1
 * where the processing-time trigger sets it: records that arrive while the clock still reads e - 1
 * belong to the window, and a timer at e - 1 can run before them. The per-window operator then fires
 * the window again with just those records; here they are in its one result, as in Flink (whose
 * processing-time service runs a timer only once the clock is past it). Windows and values are
 * otherwise those of the per-window operator with the processing-time trigger.
 */
export class SlicingWindowOperator extends WindowOperatorBase {
  private readonly size: number;
  private readonly slide: number;
  private readonly offset: number;
  private readonly eventTime: boolean;
  /** Slice width, and the offset slices are aligned to. */
  private readonly width: number;
  private readonly sliceOffset: number;
  private readonly allowedLateness: number;
  private readonly lateDataTag: string | undefined;
  private readonly fn: SlicingWindowOperatorOptions["fn"];

  /** The key's slices: `[start, partial, ...]`, ascending by start. */
  private slices!: ValueState<unknown[]>;
  /**
   * Processing time: the latest time this subtask has given a record or fired a window at. A record's
   * time is never earlier, so it never lands in a window that already fired, even when the wall clock
   * steps back or a timer runs a little before the clock reaches it. Not checkpointed: across a
   * restore the clock is assumed not to go back past windows that fired before the checkpoint.
   */
  private clockFloor = Number.MIN_SAFE_INTEGER;

  constructor(options: SlicingWindowOperatorOptions) {
    super(options.keySelector, combineHooks(options.userFunctions));
    this.size = options.size;
    this.slide = options.slide;
    this.offset = options.offset;
    this.eventTime = options.eventTime;
    this.width = gcd(options.size, options.slide);
    this.sliceOffset = ((options.offset % this.width) + this.width) % this.width;
    this.allowedLateness = options.eventTime ? options.allowedLateness : 0;
    this.lateDataTag = options.eventTime ? options.lateDataTag : undefined;
    this.fn = options.fn;
  }

  override async initializeState(state: OperatorStateContext, rt: OperatorRuntime): Promise<void> {
    await super.initializeState(state, rt);
    this.initializeWindowing(state, false);
    this.slices = this.backend.getState(new ValueStateDescriptor<unknown[]>("_window/slices"));
  }

  processElement(record: unknown, timestamp: number | undefined): void {
    if (!this.eventTime) {
      this.processOnClock(record);
      return;
    }
    if (timestamp === undefined) {
      throw new Error(
        "SlidingEventTimeWindows: a record has no timestamp. Event-time windows need timestamps: give the source a WatermarkStrategy with a timestamp assigner (env.fromSource(source, strategy)) or call assignTimestampsAndWatermarks, or use processing-time windows",
      );
    }
    this.backend.setCurrentKey(this.keyOf(record));
    const watermark = this.timers.currentWatermark();
    const slice = TimeWindow.getWindowStartWithOffset(timestamp, this.sliceOffset, this.width);
    // The last window holding the slice: when it is late, so is every other.
    const lastStart = TimeWindow.getWindowStartWithOffset(slice, this.offset, this.slide);
    if (this.cleanupTime(lastStart + this.size) <= watermark) {
      if (this.lateDataTag !== undefined) this.output.collectSide(this.lateDataTag, record, timestamp);
      else this.numLateRecordsDropped++;
      return;
    }
    const first = this.addToSlice(slice, record);
    const firstEnd = this.firstEnd(slice);
    if (firstEnd - 1 > watermark) {
      // No window of the slice has fired yet: its first window's timer starts the chain.
      if (first) this.scheduleFire(firstEnd);
      return;
    }
    this.onLateElement(slice, lastStart, watermark);
  }

  /**
   * Processing time: the record goes to the slice of the current time. No window of that slice has
   * fired (they end after it, and windows fire once the clock reaches their end), so nothing is late;
   * a new slice's first window starts the chain, as in event time.
   */
  private processOnClock(record: unknown): void {
    this.backend.setCurrentKey(this.keyOf(record));
    const now = Math.max(this.timers.currentProcessingTime(), this.clockFloor);
    this.clockFloor = now;
    const slice = TimeWindow.getWindowStartWithOffset(now, this.sliceOffset, this.width);
    if (this.addToSlice(slice, record)) this.scheduleFire(this.firstEnd(slice));
  }

  /** The end of the first window holding the slice starting at `slice`. */
  private firstEnd(slice: number): number {
    return TimeWindow.getWindowStartWithOffset(slice - this.size, this.offset, this.slide) + this.slide + this.size;
  }

  /** Sets the timer that fires the window ending at `end`. */
  private scheduleFire(end: number): void {
    if (this.eventTime) this.timers.registerEventTimeTimer(FIRE, end - 1);
    else this.timers.registerProcessingTimeTimer(FIRE, end);
  }

  /** Adds the element to its slice; true when the slice is new. */
  private addToSlice(slice: number, record: unknown): boolean {
    this.backend.setCurrentNamespace(DEFAULT_NAMESPACE);
    const slices = this.slices.value() ?? [];
    // Most elements belong to the newest slice: search from the end.
    let i = slices.length - 2;
    while (i >= 0 && (slices[i] as number) > slice) i -= 2;
    const first = i < 0 || slices[i] !== slice;
    if (first) slices.splice(i + 2, 0, slice, this.add(undefined, record));
    else slices[i + 1] = this.add(slices[i + 1], record);
    this.slices.update(slices);
    return first;
  }

  private add(partial: unknown, record: unknown): unknown {
    const fn = this.fn;
    if (fn.kind === "reduce") return partial === undefined ? record : fn.reduce(partial, record);
    return fn.aggregate.add(record, partial === undefined ? fn.aggregate.createAccumulator() : partial);
  }

  /**
   * An element (within the allowed lateness) of a slice some of whose windows already fired: fires
   * those again at once, newest window first (as the event-time trigger does in Flink's operator), and
   * schedules the first window still to come.
   */
  private onLateElement(slice: number, lastStart: number, watermark: number): void {
    let next = Number.NaN;
    for (let start = lastStart; start + this.size >= slice + this.width; start -= this.slide) {
      const end = start + this.size;
      if (this.cleanupTime(end) <= watermark) break;
      if (end - 1 <= watermark) {
        this.fireWindow(end, false);
        this.scheduleCleanup(end);
      } else {
        next = end;
      }
    }
    if (!Number.isNaN(next)) this.scheduleFire(next);
  }

  onEventTime(timer: InternalTimer): void {
    if (timer.namespace === FIRE) {
      const end = timer.timestamp + 1;
      this.fireWindow(end, true);
      if (this.allowedLateness === 0) this.cleanupWindow(end);
      else this.scheduleCleanup(end);
    } else if (timer.namespace === CLEANUP) {
      this.cleanupWindow(timer.timestamp - this.allowedLateness + 1);
    }
  }

  onProcessingTime(timer: InternalTimer): void {
    // Only the processing-time variant sets processing-time timers, and only FIRE ones: without
    // lateness a window is cleaned up as it fires.
    const end = timer.timestamp;
    if (end > this.clockFloor) this.clockFloor = end;
    this.fireWindow(end, true);
    this.cleanupWindow(end);
  }

  /**
   * Combines the slices of the window ending at `end` and emits the result (nothing when they are all
   * empty). `chain`: schedule the next window while slices of it hold data.
   */
  private fireWindow(end: number, chain: boolean): void {
    const start = end - this.size;
    const nextFrom = end + this.slide - this.size;
    let acc: unknown;
    let any = false;
    let next = false;
    this.backend.setCurrentNamespace(DEFAULT_NAMESPACE);
    const slices = this.slices.value() ?? [];
    for (let i = 0; i < slices.length; i += 2) {
      const s = slices[i] as number;
      if (s < start) continue;
      if (s >= end) break;
      acc = this.combine(acc, slices[i + 1], any);
      any = true;
      if (s >= nextFrom) next = true;
    }
    if (chain && next) this.scheduleFire(end + this.slide);
    if (!any) return;
    const fn = this.fn;
    const result = fn.kind === "reduce" ? acc : fn.aggregate.getResult(acc);
    this.emitTimestamp = end - 1;
    if (fn.process) {
      const window = new TimeWindow(start, end);
      const pctx = this.processContext;
      pctx.window = window;
      pctx.namespace = windowNamespace(window);
      fn.process.process(this.backend.getCurrentKey(), pctx, [result], this.collector);
    } else {
      this.collector.collect(result);
    }
  }

  /**
   * Adds a slice's partial aggregate to the window's, never changing the slice's own (it serves
   * other windows): a reduce starts from a copy of the first slice, an aggregate from a fresh
   * accumulator (`merge(acc, slice)` may reuse `acc`, and must leave `slice` unchanged).
   */
  private combine(acc: unknown, slice: unknown, any: boolean): unknown {
    const fn = this.fn;
    if (fn.kind === "reduce") return any ? fn.reduce(acc, slice) : structuredClone(slice);
    return fn.aggregate.merge!(any ? acc : fn.aggregate.createAccumulator(), slice);
  }

  /** The window ending at `end` is past its cleanup time: drop the slices no later window holds, and its per-window state. */
  private cleanupWindow(end: number): void {
    const from = end - this.size;
    this.backend.setCurrentNamespace(DEFAULT_NAMESPACE);
    const slices = this.slices.value();
    if (slices !== undefined) {
      // Slices before the next window's start: this window was the last one holding them.
      let n = 0;
      while (n < slices.length && (slices[n] as number) < from + this.slide) n += 2;
      if (n === slices.length) this.slices.clear();
      else if (n > 0) {
        slices.splice(0, n);
        this.slices.update(slices);
      }
    }
    const process = this.fn.process;
    if (process) {
      const window = new TimeWindow(from, end);
      const pctx = this.processContext;
      pctx.window = window;
      pctx.namespace = windowNamespace(window);
      process.clear(pctx);
      pctx.clearWindowState();
    }
  }

  /** With allowed lateness, a window (and its last slices) stays until its cleanup time. */
  private scheduleCleanup(end: number): void {
    const t = this.cleanupTime(end);
    if (t < MAX_WATERMARK) this.timers.registerEventTimeTimer(CLEANUP, t);
  }

  private cleanupTime(end: number): number {
    const t = end - 1 + this.allowedLateness;
    return t >= MAX_WATERMARK ? MAX_WATERMARK : t;
  }
}
