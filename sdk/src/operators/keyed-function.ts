import type { Collector, KeyedProcessContext, OnTimerContext } from "../api/functions.js";
import { DEFAULT_NAMESPACE } from "../state/backend.js";
import type { InternalTimer, InternalTimerService, TimeDomain, TimerService, Triggerable } from "../time/timer-service.js";
import { KeyedOperator } from "./keyed.js";
import { LiveContext, callable, type OperatorRuntime, type OperatorStateContext } from "./operator.js";

type OnTimer = (timestamp: number, ctx: unknown, out: Collector<unknown>) => void;

/**
 * What the operators of keyed user functions with timers share (KeyedProcessFunction,
 * KeyedCoProcessFunction, KeyedBroadcastProcessFunction): the user's timer service, the current
 * record's or timer's timestamp, a collector that stamps results with it, and `onTimer` calls with
 * the timer's key current. Results of an event-time timer carry the timer's time; those of a
 * processing-time timer carry none.
 */
export abstract class KeyedFunctionOperator extends KeyedOperator implements Triggerable {
  protected timers!: InternalTimerService;
  protected timestamp: number | undefined;
  protected domain: TimeDomain = "EVENT_TIME";
  protected readonly collector: Collector<unknown> = { collect: (r) => this.output.collect(r, this.timestamp) };
  private readonly onTimerFn: OnTimer | undefined;
  private userTimers: TimerService | undefined;

  constructor(userFunction: unknown, keySelector: unknown) {
    super(keySelector, userFunction);
    const onTimer = (userFunction as { onTimer?: unknown } | null)?.onTimer;
    this.onTimerFn = typeof onTimer === "function" ? (onTimer.bind(userFunction) as OnTimer) : undefined;
  }

  override async initializeState(state: OperatorStateContext, rt: OperatorRuntime): Promise<void> {
    await super.initializeState(state, rt);
    this.timers = this.getInternalTimerService("user-timers", this);
  }

  /** The context members every keyed function gets; subclasses add theirs with Object.assign (getters stay live). */
  protected keyedContext(): OnTimerContext<unknown> {
    return Object.assign(
      new KeyedContext(
        () => this.timestamp,
        () => this.domain,
      ),
      {
        getCurrentKey: () => this.backend.getCurrentKey(),
        timerService: () => {
          this.userTimers ??= this.timers.userTimerService();
          return this.userTimers;
        },
        output: (tag: { id: string }, value: unknown) => this.output.collectSide(tag.id, value, this.timestamp),
      },
    );
  }

  /** Makes `key` current (in the key's own namespace) for a record with `timestamp`. */
  protected enter(key: unknown, timestamp: number | undefined): void {
    this.backend.setCurrentKey(key);
    this.backend.setCurrentNamespace(DEFAULT_NAMESPACE);
    this.timestamp = timestamp;
  }

  /** The context `onTimer` receives. */
  protected abstract timerContext(): unknown;

  onEventTime(timer: InternalTimer): void {
    this.fire(timer.timestamp, "EVENT_TIME", timer.timestamp);
  }

  onProcessingTime(timer: InternalTimer): void {
    this.fire(timer.timestamp, "PROCESSING_TIME", undefined);
  }

  private fire(time: number, domain: TimeDomain, timestamp: number | undefined): void {
    if (!this.onTimerFn) return;
    this.timestamp = timestamp;
    this.domain = domain;
    this.backend.setCurrentNamespace(DEFAULT_NAMESPACE);
    this.onTimerFn(time, this.timerContext(), this.collector);
  }
}

/** Runs a KeyedProcessFunction: keyed state and timers of the current key, side outputs. */
export class KeyedProcessOperator extends KeyedFunctionOperator {
  private readonly fn: (v: unknown, ctx: KeyedProcessContext<unknown>, out: Collector<unknown>) => void;
  private readonly context = this.keyedContext();

  constructor(userFunction: unknown, keySelector: unknown) {
    super(userFunction, keySelector);
    this.fn = callable(userFunction, "processElement", "a keyed process function");
  }

  processElement(record: unknown, timestamp: number | undefined): void {
    this.enter(this.keyOf(record), timestamp);
    this.fn(record, this.context, this.collector);
  }

  protected timerContext(): OnTimerContext<unknown> {
    return this.context;
  }
}

/** A keyed function's context: the record's (or timer's) timestamp and, in onTimer, its time domain (see LiveContext). */
class KeyedContext extends LiveContext {
  readonly #currentDomain: () => TimeDomain;

  constructor(currentTimestamp: () => number | undefined, currentDomain: () => TimeDomain) {
    super(currentTimestamp);
    this.#currentDomain = currentDomain;
  }

  get timeDomain(): TimeDomain {
    return this.#currentDomain();
  }
}
