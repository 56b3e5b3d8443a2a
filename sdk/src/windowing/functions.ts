import type { Collector, RichFunction } from "../api/functions.js";
import type { OutputTag } from "../api/output-tag.js";
import type { KeyedStateStore } from "../state/stores.js";
import type { Window } from "./windows.js";

/** What a window function knows about the window it evaluates. */
export interface ProcessWindowContext<W extends Window> {
  /** The window being evaluated. */
  readonly window: W;
  currentProcessingTime(): number;
  currentWatermark(): number;
  /**
   * State of the current key and window: it lives as long as the window (until its cleanup time,
   * maxTimestamp + allowed lateness) and is cleared with it. Useful to tell a late re-fire from the
   * first fire. Not available for merging (session) windows.
   */
  windowState(): KeyedStateStore;
  /** State of the current key, shared by all its windows. */
  globalState(): KeyedStateStore;
  /** Emits `value` to the side output `tag`, with the window's max timestamp. */
  output<X>(tag: OutputTag<X>, value: X): void;
}

/**
 * Evaluates a window with all its elements (Flink's ProcessWindowFunction). Given to `process`, it
 * sees every element of the window (buffered in state); given to `reduce` or `aggregate` with an
 * incremental function, `elements` holds the single pre-aggregated result.
 *
 * ```ts
 * stream.keyBy(c => c.user)
 *   .window(TumblingEventTimeWindows.of(Time.minutes(1)))
 *   .process({
 *     process(user: string, ctx: ProcessWindowContext<TimeWindow>, clicks: Click[], out: Collector<string>) {
 *       out.collect(`${user}: ${clicks.length} clicks in [${ctx.window.start}, ${ctx.window.end})`);
 *     },
 *   });
 * ```
 */
export interface ProcessWindowFunction<IN, OUT, KEY, W extends Window> extends RichFunction {
  process(key: KEY, context: ProcessWindowContext<W>, elements: IN[], out: Collector<OUT>): void;
  /** The window is being removed: delete anything kept outside windowState() for it. */
  clear?(context: ProcessWindowContext<W>): void;
}

/** A ProcessWindowFunction given as a plain function. */
export type ProcessWindowFunctionLike<IN, OUT, KEY, W extends Window> =
  | ProcessWindowFunction<IN, OUT, KEY, W>
  | ((key: KEY, context: ProcessWindowContext<W>, elements: IN[], out: Collector<OUT>) => void);

/** Evaluates a window of a non-keyed stream (`windowAll`); see {@link ProcessWindowFunction}. */
export interface ProcessAllWindowFunction<IN, OUT, W extends Window> extends RichFunction {
  process(context: ProcessWindowContext<W>, elements: IN[], out: Collector<OUT>): void;
  clear?(context: ProcessWindowContext<W>): void;
}

export type ProcessAllWindowFunctionLike<IN, OUT, W extends Window> =
  | ProcessAllWindowFunction<IN, OUT, W>
  | ((context: ProcessWindowContext<W>, elements: IN[], out: Collector<OUT>) => void);
