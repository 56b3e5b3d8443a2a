import type { Collector, RichFunction } from "../api/functions.js";
import type { OutputTag } from "../api/output-tag.js";
import type { MapStateDescriptor } from "../state/descriptors.js";
import type { TimeDomain, TimerService } from "../time/timer-service.js";
import type { BroadcastState, ReadOnlyBroadcastState } from "./broadcast-state.js";

/**
 * User function shapes of joins and of the broadcast state pattern. As everywhere in Riffle, a
 * function may be a plain function or an object with the named method and optional `open`/`close`.
 */

// ---------------------------------------------------------------------------------------------
// Interval join
// ---------------------------------------------------------------------------------------------

/** What a ProcessJoinFunction knows about the pair it is given (Flink's ProcessJoinFunction.Context). */
export interface ProcessJoinContext {
  /** Event-time timestamp of the left element. */
  readonly leftTimestamp: number;
  /** Event-time timestamp of the right element. */
  readonly rightTimestamp: number;
  /** Timestamp of the results: the larger of the two. */
  readonly timestamp: number;
  /** Emits `value` to the side output `tag`, with the result timestamp. */
  output<X>(tag: OutputTag<X>, value: X): void;
}

/**
 * Called for every pair of an interval join (Flink's ProcessJoinFunction). Results carry the larger
 * of the two timestamps.
 */
export type ProcessJoinFunction<IN1, IN2, OUT> =
  | ((left: IN1, right: IN2, ctx: ProcessJoinContext, out: Collector<OUT>) => void)
  | (RichFunction & { processElement(left: IN1, right: IN2, ctx: ProcessJoinContext, out: Collector<OUT>): void });

// ---------------------------------------------------------------------------------------------
// Window join and coGroup
// ---------------------------------------------------------------------------------------------

/** Combines one pair of a window join into one result (Flink's JoinFunction). */
export type JoinFunction<IN1, IN2, OUT> = ((first: IN1, second: IN2) => OUT) | (RichFunction & { join(first: IN1, second: IN2): OUT });

/** Emits any number of results for one pair of a window join (Flink's FlatJoinFunction). */
export type FlatJoinFunction<IN1, IN2, OUT> =
  | ((first: IN1, second: IN2, out: Collector<OUT>) => void)
  | (RichFunction & { join(first: IN1, second: IN2, out: Collector<OUT>): void });

/**
 * Gets every element of both inputs that share a key and a window, once per window and key (Flink's
 * CoGroupFunction). One side may be empty, never both.
 */
export type CoGroupFunction<IN1, IN2, OUT> =
  | ((first: readonly IN1[], second: readonly IN2[], out: Collector<OUT>) => void)
  | (RichFunction & { coGroup(first: readonly IN1[], second: readonly IN2[], out: Collector<OUT>): void });

// ---------------------------------------------------------------------------------------------
// Broadcast state pattern
// ---------------------------------------------------------------------------------------------

/** What both sides of a broadcast process function can see. */
export interface BroadcastBaseContext {
  /** Event-time timestamp of the current element (or of the firing timer), if it has one. */
  readonly timestamp: number | undefined;
  currentProcessingTime(): number;
  currentWatermark(): number;
  /** Emits `value` to the side output `tag`, with the current timestamp. */
  output<X>(tag: OutputTag<X>, value: X): void;
}

/**
 * The context of `processElement` (the non-broadcast side): broadcast state can be read, never
 * changed — every subtask must hold the same broadcast state, and only broadcast elements reach
 * every subtask.
 */
export interface BroadcastReadOnlyContext extends BroadcastBaseContext {
  /** A read-only view of the broadcast state `descriptor` (registered in `stream.broadcast(...)`). */
  getBroadcastState<K, V>(descriptor: MapStateDescriptor<K, V>): ReadOnlyBroadcastState<K, V>;
}

/** The context of `processBroadcastElement`: broadcast state can be changed. */
export interface BroadcastContext extends BroadcastBaseContext {
  /** The broadcast state `descriptor` (registered in `stream.broadcast(...)`), writable. */
  getBroadcastState<K, V>(descriptor: MapStateDescriptor<K, V>): BroadcastState<K, V>;
}

/**
 * Processes a non-keyed stream connected with a broadcast stream (Flink's BroadcastProcessFunction).
 *
 * ```ts
 * const rulesDesc = new MapStateDescriptor<string, Rule>("rules");
 * events.connect(rules.broadcast(rulesDesc)).process({
 *   processElement(e, ctx, out) { const r = ctx.getBroadcastState(rulesDesc).get(e.type); if (r) out.collect(apply(r, e)); },
 *   processBroadcastElement(r, ctx) { ctx.getBroadcastState(rulesDesc).put(r.type, r); },
 * });
 * ```
 *
 * Change broadcast state only deterministically from the broadcast element: every subtask runs
 * processBroadcastElement for every broadcast element and must end up with the same state.
 */
export interface BroadcastProcessFunction<IN1, IN2, OUT> extends RichFunction {
  processElement(value: IN1, ctx: BroadcastReadOnlyContext, out: Collector<OUT>): void;
  processBroadcastElement(value: IN2, ctx: BroadcastContext, out: Collector<OUT>): void;
}

/** The context of `processElement` of a keyed broadcast function: also the current key and timers. */
export interface KeyedBroadcastReadOnlyContext<K> extends BroadcastReadOnlyContext {
  getCurrentKey(): K;
  /** Timers of the current key. */
  timerService(): TimerService;
}

/** The context of `onTimer` of a keyed broadcast function. */
export interface KeyedBroadcastOnTimerContext<K> extends KeyedBroadcastReadOnlyContext<K> {
  readonly timeDomain: TimeDomain;
}

/**
 * Processes a keyed stream connected with a broadcast stream (Flink's KeyedBroadcastProcessFunction):
 * `processElement` runs per key, with keyed state and timers, and reads the broadcast state;
 * `processBroadcastElement` runs on every subtask for every broadcast element and may change it.
 * Keyed state is not available in `processBroadcastElement` (there is no current key), and Flink's
 * `Context.applyToKeyedState` (visiting every key's state from a broadcast element) is not supported
 * yet: buffer in keyed state and re-check on a timer instead.
 */
export interface KeyedBroadcastProcessFunction<K, IN1, IN2, OUT> extends RichFunction {
  processElement(value: IN1, ctx: KeyedBroadcastReadOnlyContext<K>, out: Collector<OUT>): void;
  processBroadcastElement(value: IN2, ctx: BroadcastContext, out: Collector<OUT>): void;
  onTimer?(timestamp: number, ctx: KeyedBroadcastOnTimerContext<K>, out: Collector<OUT>): void;
}
