/**
 * Windows (after Flink's): cut a keyed (or whole) stream into finite windows of time or count and
 * evaluate each with a function when its trigger fires.
 *
 * ```ts
 * env.fromSource(orders, WatermarkStrategy.forBoundedOutOfOrderness<Order>(30_000).withTimestampAssigner((o) => o.time), "orders")
 *   .keyBy((o) => o.customerId)
 *   .window(TumblingEventTimeWindows.of(Time.minutes(15)))
 *   .allowedLateness(Time.minutes(1))
 *   .aggregate(totals);
 * ```
 *
 * - assigners: tumbling, sliding and session windows in event or processing time, global windows;
 * - triggers: event time, processing time, count, continuous, purging, or your own;
 * - evictors: count, time, delta;
 * - functions: incremental `reduce`/`aggregate` (optionally with a ProcessWindowFunction), `process`
 *   over all elements, `sum`/`min`/`max`/`minBy`/`maxBy`.
 */
export { Window, TimeWindow, GlobalWindow, Time, type Duration } from "./windows.js";
export {
  WindowAssigner,
  MergingWindowAssigner,
  TumblingEventTimeWindows,
  TumblingProcessingTimeWindows,
  SlidingEventTimeWindows,
  SlidingProcessingTimeWindows,
  EventTimeSessionWindows,
  ProcessingTimeSessionWindows,
  GlobalWindows,
  type WindowAssignerContext,
  type SessionWindowTimeGapExtractor,
} from "./assigners.js";
export {
  Trigger,
  TriggerResult,
  EventTimeTrigger,
  ProcessingTimeTrigger,
  CountTrigger,
  ContinuousEventTimeTrigger,
  ContinuousProcessingTimeTrigger,
  PurgingTrigger,
  NeverTrigger,
  type TriggerContext,
  type OnMergeContext,
} from "./triggers.js";
export { CountEvictor, TimeEvictor, DeltaEvictor, type Evictor, type EvictorContext, type TimestampedValue } from "./evictors.js";
export type {
  ProcessWindowFunction,
  ProcessWindowFunctionLike,
  ProcessAllWindowFunction,
  ProcessAllWindowFunctionLike,
  ProcessWindowContext,
} from "./functions.js";
export { WindowedStream, AllWindowedStream } from "./windowed-stream.js";
