import { MAX_WATERMARK, type OperatorRuntime, type OperatorStateContext } from "../operators/operator.js";
import { DEFAULT_NAMESPACE, type InternalKeyedStateBackend } from "../state/backend.js";
import { type ListStateDescriptor, type ReducingStateDescriptor, ValueStateDescriptor } from "../state/descriptors.js";
import type { ValueState } from "../state/state.js";
import type { InternalTimer, InternalTimerService } from "../time/timer-service.js";
import { MergingWindowAssigner, type WindowAssigner, type WindowAssignerContext } from "./assigners.js";
import type { Evictor, EvictorContext, TimestampedValue } from "./evictors.js";
import { MergingWindowSet } from "./merging-window-set.js";
import { EventTimeTrigger, type OnMergeContext, ProcessingTimeTrigger, type Trigger, type TriggerResult, isFire, isPurge } from "./triggers.js";
import { AggregateContents, ListContents, ReduceContents, TimestampedListContents, type WindowContents } from "./window-contents.js";
import { type WindowFunctionSpec, combineHooks } from "./window-function.js";
import { WindowOperatorBase } from "./window-operator-base.js";
import { TimeWindow, type Window, windowNamespace, windowOfNamespace } from "./windows.js";

export interface WindowOperatorOptions {
  keySelector: unknown;
  assigner: WindowAssigner<unknown, Window>;
  trigger: Trigger<unknown, Window>;
  evictor: Evictor<unknown, Window> | undefined;
  /** Event-time windows only: how long after its end a window keeps its state and still takes late elements. */
  allowedLateness: number;
  /** The OutputTag id late elements go to; dropped without one. */
  lateDataTag: string | undefined;
  fn: WindowFunctionSpec;
  /** The user's function objects, for their open/close/checkpoint hooks. */
  userFunctions: readonly unknown[];
}

/**
 * Flink's WindowOperator (and EvictingWindowOperator, when an evictor is set), over keyed state:
 *
 * ```
 * element ─▶ assigner ─▶ windows ─▶ (merge, for sessions) ─▶ contents[key, window] += element
 *                                                          └▶ trigger.onElement ─▶ FIRE? PURGE?
 * watermark / clock ─▶ timers[key, window] ─▶ trigger.onEventTime / onProcessingTime ─▶ FIRE? PURGE?
 *                                        └▶ cleanup time (maxTimestamp + allowed lateness): drop window
 * ```
 *
 * Window contents, trigger state and per-window state live in the keyed state backend under the
 * window's namespace (`start|end`); timers carry it too; the session mapping (MergingWindowSet) lives
 * in the key's default namespace. Everything is checkpointed, restored and rescaled with the key.
 * Results carry the window's maxTimestamp.
 */
export class WindowOperator extends WindowOperatorBase {
  private readonly assigner: WindowAssigner<unknown, Window>;
  private readonly trigger: Trigger<unknown, Window>;
  private readonly evictor: Evictor<unknown, Window> | undefined;
  private readonly allowedLateness: number;
  private readonly lateDataTag: string | undefined;
  private readonly fn: WindowFunctionSpec;
  private readonly merging: boolean;
  private readonly eventTime: boolean;
  /**
   * The default time triggers do nothing for an element of a window that already has contents but
   * register a timer that exists already (the window's end): such elements skip the trigger call and
   * the cleanup-timer registration. `event`: only while the window's end is ahead of the watermark.
   */
  private readonly fastPath: "event" | "processing" | undefined;

  private contents!: WindowContents;
  private mergingState: ValueState<number[]> | undefined;
  private triggerContext!: WindowTriggerContext;
  private readonly assignerContext: WindowAssignerContext = { getCurrentProcessingTime: () => this.timers.currentProcessingTime() };
  /** The namespace of the last time window seen: consecutive elements mostly share their window. */
  private nsStart = Number.NaN;
  private nsEnd = Number.NaN;
  private ns = "";

  constructor(options: WindowOperatorOptions) {
    super(options.keySelector, combineHooks(options.userFunctions));
    this.assigner = options.assigner;
    this.trigger = options.trigger;
    this.evictor = options.evictor;
    this.allowedLateness = options.allowedLateness;
    this.lateDataTag = options.lateDataTag;
    this.fn = options.fn;
    this.merging = options.assigner instanceof MergingWindowAssigner;
    this.eventTime = options.assigner.isEventTime();
    this.fastPath =
      options.trigger === EventTimeTrigger.create() && this.eventTime
        ? "event"
        : options.trigger === ProcessingTimeTrigger.create() && !this.eventTime
          ? "processing"
          : undefined;
  }

  override async initializeState(state: OperatorStateContext, rt: OperatorRuntime): Promise<void> {
    await super.initializeState(state, rt);
    this.initializeWindowing(state, this.merging);
    this.contents = this.createContents();
    if (this.merging) this.mergingState = this.backend.getState(new ValueStateDescriptor<number[]>("_window/merging-set"));
    this.triggerContext = new WindowTriggerContext(this.backend, this.timers);
  }

  private createContents(): WindowContents {
    if (this.evictor) return new TimestampedListContents(this.backend);
    switch (this.fn.kind) {
      case "reduce":
        return new ReduceContents(this.backend, this.fn.reduce);
      case "aggregate":
        return new AggregateContents(this.backend, this.fn.aggregate);
      case "process":
        return new ListContents(this.backend);
    }
  }

  processElement(record: unknown, timestamp: number | undefined): void {
    this.backend.setCurrentKey(this.keyOf(record));
    const windows = this.assigner.assignWindows(record, timestamp, this.assignerContext);
    let handled = false;
    if (this.merging) {
      handled = this.processMerging(record, timestamp, windows as TimeWindow[]);
    } else {
      for (let i = 0; i < windows.length; i++) {
        const window = windows[i]!;
        if (this.isWindowLate(window)) continue;
        handled = true;
        this.addToWindow(record, timestamp, window);
      }
    }
    if (!handled && this.isElementLate(timestamp)) {
      if (this.lateDataTag !== undefined) this.output.collectSide(this.lateDataTag, record, timestamp);
      else this.numLateRecordsDropped++;
    }
  }

  private addToWindow(record: unknown, timestamp: number | undefined, window: Window): void {
    const ns = this.namespaceOf(window);
    this.backend.setCurrentNamespace(ns);
    const first = this.contents.add(record, timestamp);
    if (!first && this.fastPath !== undefined && (this.fastPath === "processing" || window.maxTimestamp() > this.timers.currentWatermark())) return;
    const result = this.onElement(record, timestamp, window, ns);
    if (isFire(result)) {
      this.backend.setCurrentNamespace(ns);
      const contents = this.contents.get();
      if (contents === undefined) return;
      this.emit(window, ns, ns, contents);
    }
    if (isPurge(result)) {
      this.backend.setCurrentNamespace(ns);
      this.contents.clear();
    }
    this.registerCleanupTimer(window, ns);
  }

  private processMerging(record: unknown, timestamp: number | undefined, windows: readonly TimeWindow[]): boolean {
    this.backend.setCurrentNamespace(DEFAULT_NAMESPACE);
    const set = new MergingWindowSet(this.assigner as MergingWindowAssigner<unknown>, this.mergingState!);
    let handled = false;
    for (const window of windows) {
      const actual = set.addWindow(window, (mergeResult, mergedWindows, stateWindow, mergedStateWindows) => {
        if (this.eventTime && this.cleanupTime(mergeResult) <= this.timers.currentWatermark()) {
          throw new Error(
            `the end of an event-time window cannot move behind the watermark by merging (window ${mergeResult.toString()}, watermark ${this.timers.currentWatermark()})`,
          );
        }
        if (!this.eventTime && mergeResult.maxTimestamp() <= this.timers.currentProcessingTime()) {
          throw new Error(`the end of a processing-time window cannot move behind the current processing time by merging (window ${mergeResult.toString()})`);
        }
        const ctx = this.triggerContext;
        ctx.enter(mergeResult, windowNamespace(mergeResult));
        ctx.mergedWindows = mergedWindows;
        this.trigger.onMerge(mergeResult, ctx);
        ctx.mergedWindows = [];
        for (const m of mergedWindows) {
          const ns = windowNamespace(m);
          ctx.enter(m, ns);
          this.trigger.clear(m, ctx);
          this.deleteCleanupTimer(m, ns);
        }
        this.contents.merge(stateWindow, mergedStateWindows);
      });
      if (this.isWindowLate(actual)) {
        set.retireWindow(actual);
        continue;
      }
      handled = true;
      const stateNs = windowNamespace(set.getStateWindow(actual)!);
      const ns = windowNamespace(actual);
      this.backend.setCurrentNamespace(stateNs);
      this.contents.add(record, timestamp);
      const result = this.onElement(record, timestamp, actual, ns);
      if (isFire(result)) {
        this.backend.setCurrentNamespace(stateNs);
        const contents = this.contents.get();
        if (contents === undefined) continue;
        this.emit(actual, ns, stateNs, contents);
      }
      if (isPurge(result)) {
        this.backend.setCurrentNamespace(stateNs);
        this.contents.clear();
      }
      this.registerCleanupTimer(actual, ns);
    }
    this.backend.setCurrentNamespace(DEFAULT_NAMESPACE);
    set.persist();
    return handled;
  }

  onEventTime(timer: InternalTimer): void {
    this.onTimer(timer, true);
  }

  onProcessingTime(timer: InternalTimer): void {
    this.onTimer(timer, false);
  }

  /** A timer of a window fired (the timer service set its key and namespace): ask the trigger, then clean up at cleanup time. */
  private onTimer(timer: InternalTimer, eventTimer: boolean): void {
    const ns = timer.namespace;
    const window = windowOfNamespace(ns);
    let set: MergingWindowSet | undefined;
    let stateNs = ns;
    if (this.merging) {
      this.backend.setCurrentNamespace(DEFAULT_NAMESPACE);
      set = new MergingWindowSet(this.assigner as MergingWindowAssigner<unknown>, this.mergingState!);
      const stateWindow = set.getStateWindow(window as TimeWindow);
      // A timer of a window merged away or already removed (a trigger that left a timer behind).
      if (stateWindow === undefined) return;
      stateNs = windowNamespace(stateWindow);
    }
    const ctx = this.triggerContext;
    ctx.enter(window, ns);
    const result = eventTimer ? this.trigger.onEventTime(timer.timestamp, window, ctx) : this.trigger.onProcessingTime(timer.timestamp, window, ctx);
    if (isFire(result)) {
      this.backend.setCurrentNamespace(stateNs);
      const contents = this.contents.get();
      if (contents !== undefined) this.emit(window, ns, stateNs, contents);
    }
    if (isPurge(result)) {
      this.backend.setCurrentNamespace(stateNs);
      this.contents.clear();
    }
    if (this.eventTime === eventTimer && this.cleanupTime(window) === timer.timestamp) this.clearAllState(window, ns, stateNs, set);
    if (set) {
      this.backend.setCurrentNamespace(DEFAULT_NAMESPACE);
      set.persist();
    }
  }

  /** Drops a window: contents, trigger state and timers, per-window state, and its place in the session mapping. */
  private clearAllState(window: Window, ns: string, stateNs: string, set: MergingWindowSet | undefined): void {
    this.backend.setCurrentNamespace(stateNs);
    this.contents.clear();
    this.triggerContext.enter(window, ns);
    this.trigger.clear(window, this.triggerContext);
    const process = this.fn.process;
    if (process) {
      const pctx = this.processContext;
      pctx.window = window;
      pctx.namespace = ns;
      process.clear(pctx);
      pctx.clearWindowState();
    }
    if (set) set.retireWindow(window as TimeWindow);
  }

  private onElement(record: unknown, timestamp: number | undefined, window: Window, ns: string): TriggerResult {
    const ctx = this.triggerContext;
    ctx.enter(window, ns);
    return this.trigger.onElement(record, timestamp, window, ctx);
  }

  /** Evaluates the window function over `contents` (read from `stateNs`) for `window`. */
  private emit(window: Window, ns: string, stateNs: string, contents: unknown): void {
    this.emitTimestamp = window.maxTimestamp();
    const pctx = this.processContext;
    pctx.window = window;
    pctx.namespace = ns;
    const key = this.backend.getCurrentKey();
    if (!this.evictor) {
      this.evaluate(key, contents, false);
      return;
    }
    const elements = contents as TimestampedValue<unknown>[];
    const ctx = this.triggerContext;
    this.evictor.evictBefore(elements, window, ctx);
    this.evaluate(
      key,
      elements.map((e) => e.value),
      true,
    );
    this.evictor.evictAfter(elements, window, ctx);
    this.backend.setCurrentNamespace(stateNs);
    (this.contents as TimestampedListContents).replace(elements);
  }

  /** `buffered`: contents are the window's elements (evictors), to be folded here. */
  private evaluate(key: unknown, contents: unknown, buffered: boolean): void {
    const fn = this.fn;
    switch (fn.kind) {
      case "process":
        fn.process.process(key, this.processContext, contents as unknown[], this.collector);
        return;
      case "reduce": {
        let value = contents;
        if (buffered) {
          const elements = contents as unknown[];
          if (elements.length === 0) return;
          value = elements[0];
          for (let i = 1; i < elements.length; i++) value = fn.reduce(value, elements[i]);
        }
        this.emitResult(key, value);
        return;
      }
      case "aggregate": {
        let acc = contents;
        if (buffered) {
          acc = fn.aggregate.createAccumulator();
          for (const e of contents as unknown[]) acc = fn.aggregate.add(e, acc);
        }
        this.emitResult(key, fn.aggregate.getResult(acc));
        return;
      }
    }
  }

  private emitResult(key: unknown, result: unknown): void {
    const process = this.fn.process;
    if (process) process.process(key, this.processContext, [result], this.collector);
    else this.collector.collect(result);
  }

  /** When a window's state is dropped: maxTimestamp + allowed lateness in event time, maxTimestamp in processing time. */
  private cleanupTime(window: Window): number {
    const max = window.maxTimestamp();
    if (!this.eventTime) return max;
    const t = max + this.allowedLateness;
    return t >= MAX_WATERMARK ? MAX_WATERMARK : t;
  }

  private isWindowLate(window: Window): boolean {
    return this.eventTime && this.cleanupTime(window) <= this.timers.currentWatermark();
  }

  private isElementLate(timestamp: number | undefined): boolean {
    return this.eventTime && timestamp !== undefined && timestamp + this.allowedLateness <= this.timers.currentWatermark();
  }

  private registerCleanupTimer(window: Window, ns: string): void {
    const t = this.cleanupTime(window);
    if (t === MAX_WATERMARK) return;
    // The trigger just registered this very timer (the default triggers do, without lateness).
    if (this.eventTime) {
      if (this.triggerContext.lastEventTimer !== t) this.timers.registerEventTimeTimer(ns, t);
    } else if (this.triggerContext.lastProcessingTimer !== t) {
      this.timers.registerProcessingTimeTimer(ns, t);
    }
  }

  private deleteCleanupTimer(window: Window, ns: string): void {
    const t = this.cleanupTime(window);
    if (t === MAX_WATERMARK) return;
    if (this.eventTime) this.timers.deleteEventTimeTimer(ns, t);
    else this.timers.deleteProcessingTimeTimer(ns, t);
  }

  private namespaceOf(window: Window): string {
    if (!(window instanceof TimeWindow)) return windowNamespace(window);
    if (window.start !== this.nsStart || window.end !== this.nsEnd) {
      this.nsStart = window.start;
      this.nsEnd = window.end;
      this.ns = windowNamespace(window);
    }
    return this.ns;
  }
}

/**
 * The context triggers (and evictors) get: timers and state of the current key and window. The
 * operator calls `enter(window, ns)` before each trigger call; state handed out is that of the
 * window's namespace, which the operator keeps current for the duration of the call.
 */
class WindowTriggerContext implements OnMergeContext, EvictorContext {
  window!: Window;
  ns = "";
  /** For onMerge: the windows merged into `window`. */
  mergedWindows: readonly Window[] = [];
  /** The last timers registered since `enter` (NaN: none), so the operator can skip registering them again. */
  lastEventTimer = Number.NaN;
  lastProcessingTimer = Number.NaN;

  constructor(
    private readonly backend: InternalKeyedStateBackend,
    private readonly timers: InternalTimerService,
  ) {}

  enter(window: Window, ns: string): void {
    this.window = window;
    this.ns = ns;
    this.lastEventTimer = Number.NaN;
    this.lastProcessingTimer = Number.NaN;
    this.backend.setCurrentNamespace(ns);
  }

  getCurrentProcessingTime(): number {
    return this.timers.currentProcessingTime();
  }

  getCurrentWatermark(): number {
    return this.timers.currentWatermark();
  }

  registerProcessingTimeTimer(time: number): void {
    this.timers.registerProcessingTimeTimer(this.ns, time);
    this.lastProcessingTimer = time;
  }

  registerEventTimeTimer(time: number): void {
    this.timers.registerEventTimeTimer(this.ns, time);
    this.lastEventTimer = time;
  }

  deleteProcessingTimeTimer(time: number): void {
    this.timers.deleteProcessingTimeTimer(this.ns, time);
    if (this.lastProcessingTimer === time) this.lastProcessingTimer = Number.NaN;
  }

  deleteEventTimeTimer(time: number): void {
    this.timers.deleteEventTimeTimer(this.ns, time);
    if (this.lastEventTimer === time) this.lastEventTimer = Number.NaN;
  }

  // biome-ignore lint/suspicious/noExplicitAny: one implementation behind the typed overloads of TriggerContext
  getPartitionedState(descriptor: any): any {
    this.backend.setCurrentNamespace(this.ns);
    switch ((descriptor as { kind?: string } | undefined)?.kind) {
      case "value":
        return this.backend.getState(descriptor);
      case "list":
        return this.backend.getListState(descriptor);
      case "map":
        return this.backend.getMapState(descriptor);
      case "reducing":
        return this.backend.getReducingState(descriptor);
      case "aggregating":
        return this.backend.getAggregatingState(descriptor);
      default:
        throw new Error("getPartitionedState needs a state descriptor");
    }
  }

  mergePartitionedState(descriptor: ReducingStateDescriptor<unknown> | ListStateDescriptor<unknown>): void {
    const sources = this.mergedWindows.filter((w) => !w.equals(this.window));
    if (sources.length === 0) return;
    if (descriptor.kind === "reducing") {
      const state = this.backend.getReducingState(descriptor);
      const values: unknown[] = [];
      for (const w of sources) {
        this.backend.setCurrentNamespace(windowNamespace(w));
        const v = state.get();
        if (v === undefined) continue;
        values.push(v);
        state.clear();
      }
      this.backend.setCurrentNamespace(this.ns);
      for (const v of values) state.add(v);
    } else if (descriptor.kind === "list") {
      const state = this.backend.getListState(descriptor);
      const values: unknown[] = [];
      for (const w of sources) {
        this.backend.setCurrentNamespace(windowNamespace(w));
        const list = state.get();
        if (list.length === 0) continue;
        values.push(...list);
        state.clear();
      }
      this.backend.setCurrentNamespace(this.ns);
      state.addAll(values);
    } else {
      throw new Error("mergePartitionedState supports reducing and list state");
    }
  }
}
