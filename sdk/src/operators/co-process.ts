import type { Collector, OnTimerContext, ProcessContext } from "../api/functions.js";
import { type TimerService, nonKeyedTimerService } from "../time/timer-service.js";
import { UserFunctionOperator } from "./basic.js";
import { KeyedFunctionOperator } from "./keyed-function.js";
import { LiveContext, MIN_WATERMARK, callable, type OperatorRuntime } from "./operator.js";

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
    this.context = Object.assign(new LiveContext(() => this.timestamp), {
      timerService: () => this.timers!,
      output: (tag: { id: string }, value: unknown) => this.output.collectSide(tag.id, value, this.timestamp),
    });
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
export class KeyedCoProcessOperator extends KeyedFunctionOperator {
  private readonly fn1: Process2;
  private readonly fn2: Process2;
  private readonly key2: (v: unknown) => unknown;
  private readonly context = this.keyedContext();

  constructor(userFunction: unknown, key1: unknown, key2: unknown) {
    super(userFunction, key1);
    this.fn1 = callable(userFunction, "processElement1", "a keyed co-process function");
    this.fn2 = callable(userFunction, "processElement2", "a keyed co-process function");
    this.key2 = callable(key2, "getKey", "a key selector");
  }

  processElement(record: unknown, timestamp: number | undefined): void {
    this.enter(this.keyOf(record), timestamp);
    this.fn1(record, this.context, this.collector);
  }

  override processElement2(record: unknown, timestamp: number | undefined): void {
    this.enter(this.key2(record), timestamp);
    this.fn2(record, this.context, this.collector);
  }

  protected timerContext(): OnTimerContext<unknown> {
    return this.context;
  }
}
