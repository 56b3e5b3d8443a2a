import type { Collector, OnTimerContext, ProcessContext } from "../api/functions.js";
import { DEFAULT_NAMESPACE } from "../state/backend.js";
import {
  type InternalTimer,
  type InternalTimerService,
  type TimeDomain,
  type TimerService,
  type Triggerable,
  nonKeyedTimerService,
} from "../time/timer-service.js";
import { UserFunctionOperator } from "./basic.js";
import { KeyedOperator } from "./keyed.js";
import { MIN_WATERMARK, callable, type OperatorRuntime, type OperatorStateContext } from "./operator.js";

type Process2 = (v: unknown, ctx: ProcessContext, out: Collector<unknown>) => void;

/**
 * Runs a CoProcessFunction over two connected streams (Flink's CoProcessOperator). The task hands
 * records of input 2 to processElement2; the input watermark is the minimum over both inputs.
 */
export class CoProcessOperator extends UserFunctionOperator {
  private readonly fn1: Process2;
  private readonly fn2: Process2;
  private timestamp: number | undefined;
  private watermark = MIN_WATERMARK;
  private timers: TimerService | undefined;
  private readonly collector: Collector<unknown> = { collect: (r) => this.output.collect(r, this.timestamp) };
  private readonly context: ProcessContext;

  constructor(userFunction: unknown) {
    super(userFunction);
    this.fn1 = callable(userFunction, "processElement1", "a co-process function");
    this.fn2 = callable(userFunction, "processElement2", "a co-process function");
    const op = this;
    this.context = {
      get timestamp() {
        return op.timestamp;
      },
      timerService: () => this.timers!,
      output: (tag, value) => this.output.collectSide(tag.id, value, this.timestamp),
    };
  }

  override async open(rt: OperatorRuntime): Promise<void> {
    this.timers = nonKeyedTimerService(rt.processingTime, () => this.watermark);
    await super.open(rt);
  }

  processElement(record: unknown, timestamp: number | undefined): void {
    this.timestamp = timestamp;
    this.fn1(record, this.context, this.collector);
  }

  override processElement2(record: unknown, timestamp: number | undefined): void {
    this.timestamp = timestamp;
    this.fn2(record, this.context, this.collector);
  }

  override processWatermark(watermark: number): void {
    this.watermark = watermark;
    this.output.emitWatermark(watermark);
  }
}

/**
 * Runs a KeyedCoProcessFunction: both inputs keyed (each by its own key selector), with keyed state
 * and timers shared by the two inputs for a key (Flink's KeyedCoProcessOperator).
 */
export class KeyedCoProcessOperator extends KeyedOperator implements Triggerable {
  private readonly fn1: Process2;
  private readonly fn2: Process2;
  private readonly key2: (v: unknown) => unknown;
  private readonly onTimerFn: ((ts: number, ctx: OnTimerContext<unknown>, out: Collector<unknown>) => void) | undefined;
  private timers!: InternalTimerService;
  private timestamp: number | undefined;
  private domain: TimeDomain = "EVENT_TIME";
  private readonly collector: Collector<unknown> = { collect: (r) => this.output.collect(r, this.timestamp) };
  private readonly context: OnTimerContext<unknown>;

  constructor(userFunction: unknown, key1: unknown, key2: unknown) {
    super(key1, userFunction);
    this.fn1 = callable(userFunction, "processElement1", "a keyed co-process function");
    this.fn2 = callable(userFunction, "processElement2", "a keyed co-process function");
    this.key2 = callable(key2, "getKey", "a key selector");
    const onTimer = (userFunction as { onTimer?: unknown } | null)?.onTimer;
    this.onTimerFn = typeof onTimer === "function" ? onTimer.bind(userFunction) : undefined;
    const op = this;
    let userTimers: TimerService | undefined;
    this.context = {
      get timestamp() {
        return op.timestamp;
      },
      get timeDomain() {
        return op.domain;
      },
      getCurrentKey: () => this.backend.getCurrentKey(),
      timerService: () => {
        userTimers ??= this.timers.userTimerService();
        return userTimers;
      },
      output: (tag, value) => this.output.collectSide(tag.id, value, this.timestamp),
    };
  }

  override async initializeState(state: OperatorStateContext, rt: OperatorRuntime): Promise<void> {
    await super.initializeState(state, rt);
    this.timers = this.getInternalTimerService("user-timers", this);
  }

  processElement(record: unknown, timestamp: number | undefined): void {
    this.backend.setCurrentKey(this.keyOf(record));
    this.backend.setCurrentNamespace(DEFAULT_NAMESPACE);
    this.timestamp = timestamp;
    this.fn1(record, this.context, this.collector);
  }

  override processElement2(record: unknown, timestamp: number | undefined): void {
    this.backend.setCurrentKey(this.key2(record));
    this.backend.setCurrentNamespace(DEFAULT_NAMESPACE);
    this.timestamp = timestamp;
    this.fn2(record, this.context, this.collector);
  }

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
    this.onTimerFn(time, this.context, this.collector);
  }
}
