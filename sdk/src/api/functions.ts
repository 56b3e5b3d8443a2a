/**
 * User function shapes. Every function can be a plain function or an object (often a class instance)
 * with the method plus optional `open(ctx)` / `close()` hooks, as Flink's Rich functions.
 */

/** Metrics a user function can register; they appear on the TaskManager's /metrics with task labels. */
export interface MetricGroup {
  /** A counter named `riffle_user_<name>`. */
  counter(name: string, help?: string): { inc(by?: number): void };
  /** A gauge named `riffle_user_<name>` read from `read()` at scrape time. */
  gauge(name: string, read: () => number, help?: string): void;
}

/** What a running function knows about where it runs. */
export interface RuntimeContext {
  readonly jobId: string;
  readonly jobName: string;
  readonly taskName: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly metrics: MetricGroup;
  /** Job arguments (`riffle run job.ts --input x` gives `["--input", "x"]`). */
  readonly args: readonly string[];
}

export interface RichFunction {
  open?(ctx: RuntimeContext): void | Promise<void>;
  close?(): void | Promise<void>;
}

export interface Collector<T> {
  collect(record: T): void;
}

export type MapFunction<T, R> = ((value: T) => R) | (RichFunction & { map(value: T): R });
export type FilterFunction<T> = ((value: T) => boolean) | (RichFunction & { filter(value: T): boolean });
/** Emits through `out`, or returns an array/iterable of results (or both). */
export type FlatMapFunction<T, R> =
  | ((value: T, out: Collector<R>) => Iterable<R> | undefined | void)
  | (RichFunction & { flatMap(value: T, out: Collector<R>): Iterable<R> | undefined | void });
export type ReduceFunction<T> = ((a: T, b: T) => T) | (RichFunction & { reduce(a: T, b: T): T });
export type KeySelector<T, K> = (value: T) => K;

export interface ProcessContext {
  /** Timestamp of the current record, if it has one. */
  readonly timestamp: number | undefined;
}

export interface ProcessFunction<T, R> extends RichFunction {
  processElement(value: T, ctx: ProcessContext, out: Collector<R>): void;
}

export interface KeyedProcessContext<K> extends ProcessContext {
  getCurrentKey(): K;
}

export interface KeyedProcessFunction<K, T, R> extends RichFunction {
  processElement(value: T, ctx: KeyedProcessContext<K>, out: Collector<R>): void;
}

/** Calls `open` when the function has one. */
export async function openFunction(fn: unknown, ctx: RuntimeContext): Promise<void> {
  if (fn && typeof fn === "object" && typeof (fn as RichFunction).open === "function") await (fn as RichFunction).open!(ctx);
}

export async function closeFunction(fn: unknown): Promise<void> {
  if (fn && typeof fn === "object" && typeof (fn as RichFunction).close === "function") await (fn as RichFunction).close!();
}
