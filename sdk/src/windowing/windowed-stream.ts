import { RiffleError } from "@riffle/shared";
import { type DataStream, type KeyedStream, SingleOutputStreamOperator } from "../api/datastream.js";
import type { ReduceFunction } from "../api/functions.js";
import { OutputTag } from "../api/output-tag.js";
import { type StreamOperator, callable } from "../operators/operator.js";
import type { AggregateFunction } from "../state/descriptors.js";
import { aggregationReducer, type WindowAggregation } from "./aggregations.js";
import { GlobalWindows, MergingWindowAssigner, SlidingEventTimeWindows, SlidingProcessingTimeWindows, WindowAssigner } from "./assigners.js";
import { CountEvictor, type Evictor, checkEvictor } from "./evictors.js";
import type { ProcessAllWindowFunctionLike, ProcessWindowFunctionLike } from "./functions.js";
import { SlicingWindowOperator, gcd } from "./sliced-window-operator.js";
import { CountTrigger, PurgingTrigger, type Trigger, checkTrigger } from "./triggers.js";
import type { InternalProcessFunction, WindowFunctionSpec } from "./window-function.js";
import { WindowOperator } from "./window-operator.js";
import { type Duration, type GlobalWindow, type Window, durationMs } from "./windows.js";

/** The key of every element of a non-keyed window (windowAll), as Flink's NullByteKeySelector. */
const ALL_KEY = 0;

/** What the windowed streams share: the settings, and turning them into an operator. */
abstract class WindowedStreamBase<T, W extends Window> {
  protected customTrigger: Trigger<T, W> | undefined;
  protected evictorFn: Evictor<T, W> | undefined;
  protected lateness = 0;
  protected lateTag: OutputTag<T> | undefined;

  protected constructor(
    protected readonly input: KeyedStream<T, unknown>,
    protected readonly assigner: WindowAssigner<T, W>,
    private readonly all: boolean,
  ) {
    if (!(assigner instanceof WindowAssigner))
      throw new RiffleError("JOB_INVALID_GRAPH", "window() needs a WindowAssigner, e.g. TumblingEventTimeWindows.of(60_000)");
  }

  /** Replaces the assigner's default trigger. */
  trigger(trigger: Trigger<T, W>): this {
    checkTrigger(trigger);
    if (this.assigner instanceof MergingWindowAssigner && !trigger.canMerge?.()) {
      throw new RiffleError("JOB_INVALID_GRAPH", `${String(trigger)} does not support merging windows, which ${this.assigner.toString()} needs`);
    }
    this.customTrigger = trigger;
    return this;
  }

  /** Evicts elements before or after each evaluation; the window then buffers all its elements. */
  evictor(evictor: Evictor<T, W>): this {
    checkEvictor(evictor);
    this.evictorFn = evictor;
    return this;
  }

  /**
   * Event-time windows keep their state until the watermark passes maxTimestamp + `lateness` (default
   * 0); an element arriving late but within it fires the window again with the updated result.
   */
  allowedLateness(lateness: Duration): this {
    this.lateness = durationMs(lateness, "allowedLateness");
    return this;
  }

  /** Elements too late for all their windows go to the side output `tag` instead of being dropped. */
  sideOutputLateData(tag: OutputTag<T>): this {
    if (!(tag instanceof OutputTag)) throw new RiffleError("JOB_INVALID_GRAPH", "sideOutputLateData needs an OutputTag");
    this.lateTag = tag;
    return this;
  }

  /** Sum of a numeric field per window (of the element itself when it is a number); other fields from the window's first element. */
  sum(field?: (keyof T & string) | number): SingleOutputStreamOperator<T> {
    return this.aggregation("sum", field);
  }

  min(field?: (keyof T & string) | number): SingleOutputStreamOperator<T> {
    return this.aggregation("min", field);
  }

  max(field?: (keyof T & string) | number): SingleOutputStreamOperator<T> {
    return this.aggregation("max", field);
  }

  /** The element with the smallest value of the field in each window (the first on ties). */
  minBy(field: (keyof T & string) | number): SingleOutputStreamOperator<T> {
    return this.aggregation("minBy", field);
  }

  maxBy(field: (keyof T & string) | number): SingleOutputStreamOperator<T> {
    return this.aggregation("maxBy", field);
  }

  protected reduceWith<R>(fn: ReduceFunction<T>, process: unknown, name = "Reduce"): SingleOutputStreamOperator<R> {
    const reduce = callable<(a: unknown, b: unknown) => unknown>(fn, "reduce", "a window reduce function");
    return this.build<R>({ kind: "reduce", reduce, process: process === undefined ? undefined : this.processFunction(process) }, name, [fn, process]);
  }

  protected aggregateWith<R>(fn: AggregateFunction<T, unknown, unknown>, process: unknown): SingleOutputStreamOperator<R> {
    const agg = fn as Partial<AggregateFunction<unknown, unknown, unknown>> | undefined;
    for (const m of ["createAccumulator", "add", "getResult"] as const) {
      if (typeof agg?.[m] !== "function") throw new RiffleError("JOB_INVALID_GRAPH", `a window aggregate function needs a ${m}() method`);
    }
    if (this.assigner instanceof MergingWindowAssigner && typeof agg!.merge !== "function") {
      throw new RiffleError(
        "JOB_INVALID_GRAPH",
        `aggregate over merging windows (${this.assigner.toString()}) needs an AggregateFunction with a merge() method`,
      );
    }
    const aggregate = agg as AggregateFunction<unknown, unknown, unknown>;
    return this.build<R>({ kind: "aggregate", aggregate, process: process === undefined ? undefined : this.processFunction(process) }, "Aggregate", [
      fn,
      process,
    ]);
  }

  protected processWith<R>(process: unknown): SingleOutputStreamOperator<R> {
    return this.build<R>({ kind: "process", process: this.processFunction(process) }, "Process", [process]);
  }

  protected aggregation<R>(type: WindowAggregation, field: string | number | undefined): SingleOutputStreamOperator<R> {
    return this.reduceWith<R>(aggregationReducer(type, field) as ReduceFunction<T>, undefined, `${type}(${field ?? ""})`);
  }

  private processFunction(fn: unknown): InternalProcessFunction {
    const process = callable<(...args: unknown[]) => void>(fn, "process", "a process window function");
    const clearFn = (fn as { clear?: unknown } | null)?.clear;
    const clear = typeof fn === "object" && typeof clearFn === "function" ? (clearFn.bind(fn) as InternalProcessFunction["clear"]) : () => {};
    if (this.all) return { process: (_key, ctx, elements, out) => process(ctx, elements, out), clear };
    return { process: (key, ctx, elements, out) => process(key, ctx, elements, out), clear };
  }

  private build<R>(spec: WindowFunctionSpec, fnName: string, userFunctions: unknown[]): SingleOutputStreamOperator<R> {
    const env = this.input.env;
    const keySelector = env.functions[this.input.keySelectorId];
    const assigner = this.assigner as unknown as WindowAssigner<unknown, Window>;
    const trigger = (this.customTrigger ?? this.assigner.getDefaultTrigger()) as Trigger<unknown, Window>;
    const evictor = this.evictorFn as Evictor<unknown, Window> | undefined;
    const lateDataTag = this.lateTag?.id;
    const allowedLateness = this.lateness;
    const functions = userFunctions.filter((f) => f !== undefined);
    const slicing = this.slicingFor(spec);
    let name: string;
    let factory: () => StreamOperator;
    if (slicing) {
      const { size, slide, offset } = this.assigner as unknown as SlidingEventTimeWindows | SlidingProcessingTimeWindows;
      const eventTime = assigner.isEventTime();
      name = `Window(${assigner.toString()}, ${trigger.toString()}, ${fnName}, sliced)`;
      factory = () =>
        new SlicingWindowOperator({ keySelector, size, slide, offset, eventTime, allowedLateness, lateDataTag, fn: slicing, userFunctions: functions });
    } else {
      name = `Window(${assigner.toString()}, ${trigger.toString()}${evictor ? `, ${String(evictor)}` : ""}, ${fnName})`;
      factory = () => new WindowOperator({ keySelector, assigner, trigger, evictor, allowedLateness, lateDataTag, fn: spec, userFunctions: functions });
    }
    if (this.all) name = name.replace(/^Window/, "AllWindow");
    const t = env.addOperator("operator", factory, [this.input.transformation], name, { keyed: true });
    if (this.all) {
      t.parallelism = 1;
      t.parallelismLimit = 1;
    }
    return new SingleOutputStreamOperator<R>(env, t);
  }

  /**
   * The slicing operator runs sliding windows (event or processing time) with an incremental
   * function, the default trigger and no evictor (an explicit trigger, even the default one, selects
   * the per-window operator); an aggregate needs merge() to combine slices.
   */
  private slicingFor(spec: WindowFunctionSpec): Extract<WindowFunctionSpec, { kind: "reduce" | "aggregate" }> | undefined {
    const sliding = this.assigner instanceof SlidingEventTimeWindows || this.assigner instanceof SlidingProcessingTimeWindows;
    if (!sliding || this.customTrigger !== undefined || this.evictorFn !== undefined) return undefined;
    const { size, slide, offset } = this.assigner;
    if (slide > size || !Number.isInteger(size) || !Number.isInteger(slide) || !Number.isInteger(offset)) return undefined;
    // Slices are gcd(size, slide) wide: when that is tiny against the slide (size 10001, slide 10000),
    // a window is thousands of slices while an element is in two windows: per window is cheaper.
    const slicesPerWindow = size / gcd(size, slide);
    if (slicesPerWindow > 8 * Math.ceil(size / slide)) return undefined;
    if (spec.kind === "reduce") return spec;
    if (spec.kind === "aggregate" && typeof spec.aggregate.merge === "function") return spec;
    return undefined;
  }
}

/**
 * A keyed stream cut into windows (Flink's WindowedStream): set a trigger, an evictor, allowed
 * lateness and a late-data side output, then give the window function.
 *
 * ```ts
 * const late = new OutputTag<Bid>("late-bids");
 * const maxBids = bids
 *   .keyBy((b) => b.auction)
 *   .window(SlidingEventTimeWindows.of(Time.minutes(10), Time.minutes(1)))
 *   .allowedLateness(Time.minutes(1))
 *   .sideOutputLateData(late)
 *   .reduce((a, b) => (b.price > a.price ? b : a));
 * maxBids.getSideOutput(late).print();
 * ```
 */
export class WindowedStream<T, K, W extends Window> extends WindowedStreamBase<T, W> {
  /** @internal use KeyedStream.window */
  constructor(input: KeyedStream<T, K>, assigner: WindowAssigner<T, W>) {
    super(input as KeyedStream<T, unknown>, assigner, false);
  }

  /** Reduces each window incrementally (one value per window in state); with `process`, hands the result to it. */
  reduce(fn: ReduceFunction<T>): SingleOutputStreamOperator<T>;
  reduce<R>(fn: ReduceFunction<T>, process: ProcessWindowFunctionLike<T, R, K, W>): SingleOutputStreamOperator<R>;
  reduce<R>(fn: ReduceFunction<T>, process?: ProcessWindowFunctionLike<T, R, K, W>): SingleOutputStreamOperator<R | T> {
    return this.reduceWith(fn, process);
  }

  /** Aggregates each window incrementally (one accumulator per window in state); with `process`, hands the result to it. */
  aggregate<ACC, V>(fn: AggregateFunction<T, ACC, V>): SingleOutputStreamOperator<V>;
  aggregate<ACC, V, R>(fn: AggregateFunction<T, ACC, V>, process: ProcessWindowFunctionLike<V, R, K, W>): SingleOutputStreamOperator<R>;
  aggregate<ACC, V, R>(fn: AggregateFunction<T, ACC, V>, process?: ProcessWindowFunctionLike<V, R, K, W>): SingleOutputStreamOperator<V | R> {
    return this.aggregateWith(fn as AggregateFunction<T, unknown, unknown>, process);
  }

  /** Evaluates each window with all its elements (buffered in state). */
  process<R>(fn: ProcessWindowFunctionLike<T, R, K, W>): SingleOutputStreamOperator<R> {
    return this.processWith(fn);
  }
}

/**
 * A non-keyed stream cut into windows (Flink's AllWindowedStream): every element goes to one subtask
 * (parallelism 1), as in Flink. Same settings and functions as {@link WindowedStream}.
 */
export class AllWindowedStream<T, W extends Window> extends WindowedStreamBase<T, W> {
  /** @internal use DataStream.windowAll */
  constructor(input: DataStream<T>, assigner: WindowAssigner<T, W>) {
    super(input.keyBy(() => ALL_KEY) as KeyedStream<T, unknown>, assigner, true);
  }

  reduce(fn: ReduceFunction<T>): SingleOutputStreamOperator<T>;
  reduce<R>(fn: ReduceFunction<T>, process: ProcessAllWindowFunctionLike<T, R, W>): SingleOutputStreamOperator<R>;
  reduce<R>(fn: ReduceFunction<T>, process?: ProcessAllWindowFunctionLike<T, R, W>): SingleOutputStreamOperator<R | T> {
    return this.reduceWith(fn, process);
  }

  aggregate<ACC, V>(fn: AggregateFunction<T, ACC, V>): SingleOutputStreamOperator<V>;
  aggregate<ACC, V, R>(fn: AggregateFunction<T, ACC, V>, process: ProcessAllWindowFunctionLike<V, R, W>): SingleOutputStreamOperator<R>;
  aggregate<ACC, V, R>(fn: AggregateFunction<T, ACC, V>, process?: ProcessAllWindowFunctionLike<V, R, W>): SingleOutputStreamOperator<V | R> {
    return this.aggregateWith(fn as AggregateFunction<T, unknown, unknown>, process);
  }

  process<R>(fn: ProcessAllWindowFunctionLike<T, R, W>): SingleOutputStreamOperator<R> {
    return this.processWith(fn);
  }
}

/** Flink's countWindow: windows of `size` elements per key, every `slide` elements when given (then overlapping). */
export function countWindow<T, K>(input: KeyedStream<T, K>, size: number, slide?: number): WindowedStream<T, K, GlobalWindow> {
  const w = new WindowedStream<T, K, GlobalWindow>(input, GlobalWindows.create());
  return slide === undefined ? w.trigger(PurgingTrigger.of(CountTrigger.of(size))) : w.evictor(CountEvictor.of(size)).trigger(CountTrigger.of(slide));
}

/** Flink's countWindowAll: {@link countWindow} over the whole stream (parallelism 1). */
export function countWindowAll<T>(input: DataStream<T>, size: number, slide?: number): AllWindowedStream<T, GlobalWindow> {
  const w = new AllWindowedStream<T, GlobalWindow>(input, GlobalWindows.create());
  return slide === undefined ? w.trigger(PurgingTrigger.of(CountTrigger.of(size))) : w.evictor(CountEvictor.of(size)).trigger(CountTrigger.of(slide));
}
