import type { Logger } from "@riffle/shared";
import type { KeyedStateStore, OperatorStateStore } from "../state/stores.js";
import type { TimeDomain, TimerService } from "../time/timer-service.js";
import type { OutputTag } from "./output-tag.js";

/**
 * User function shapes. Every function can be a plain function or an object (often a class instance)
 * with the method plus optional `open(ctx)` / `close()` hooks, as Flink's Rich functions.
 */

/** Metrics a user function can register; they appear on the TaskManager's /metrics with task labels. */
export interface MetricGroup {
  /** A counter named `riffle_user_<name>`. */
  counter(name: string, help?: string): { inc(by?: number): void };
  /**
   * A gauge named `riffle_user_<name>` read from `read()` at scrape time. `labels` tell apart series
   * of one gauge (a Kafka partition's lag: topic and partition); every registration of a name must
   * use the same label names. Registering the same name and labels again replaces the reader.
   */
  gauge(name: string, read: () => number, help?: string, labels?: Readonly<Record<string, string>>): void;
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
  /**
   * The task's logger: JSON lines on the TaskManager's stdout, with the job, task and execution
   * attached. Functions and connectors log through it: a console print would land between the log
   * lines and a print sink's output.
   */
  readonly log: Logger;
  /** Job arguments (`riffle run job.ts --input x` gives `["--input", "x"]`). */
  readonly args: readonly string[];
  /** 0 for the first run of the subtask, +1 for every restart. */
  readonly attempt?: number;
}

export interface RichFunction {
  open?(ctx: RuntimeContext): void | Promise<void>;
  close?(): void | Promise<void>;
}

/** What a function gets to set up its checkpointed state, before `open` (Flink's FunctionInitializationContext). */
export interface FunctionInitializationContext {
  /** True when the job restores from a checkpoint or savepoint. */
  readonly isRestored: boolean;
  readonly operatorState: OperatorStateStore;
  /** Keyed state, for functions after a keyBy. */
  readonly keyedState: KeyedStateStore | undefined;
}

/**
 * A function with its own checkpointed state (Flink's CheckpointedFunction): `initializeState` runs
 * before `open`, `snapshotState` at every checkpoint to put what it holds into its state.
 */
export interface CheckpointedFunction {
  initializeState(ctx: FunctionInitializationContext): void | Promise<void>;
  snapshotState(ctx: { checkpointId: number }): void;
}

/** Told when a checkpoint completed or was aborted (Flink's CheckpointListener). */
export interface CheckpointListener {
  notifyCheckpointComplete?(checkpointId: number): void | Promise<void>;
  notifyCheckpointAborted?(checkpointId: number): void | Promise<void>;
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
  /** Event-time timestamp of the current record (or of the firing timer), if it has one. */
  readonly timestamp: number | undefined;
  /** Time and timers; registering timers needs a keyed stream (keyBy(...).process(...)). */
  timerService(): TimerService;
  /** Emits `value` to the side output `tag`, with the current timestamp. */
  output<X>(tag: OutputTag<X>, value: X): void;
}

export interface ProcessFunction<T, R> extends RichFunction {
  processElement(value: T, ctx: ProcessContext, out: Collector<R>): void;
}

export interface KeyedProcessContext<K> extends ProcessContext {
  getCurrentKey(): K;
}

export interface OnTimerContext<K> extends KeyedProcessContext<K> {
  /** Whether the firing timer is an event-time or a processing-time timer. */
  readonly timeDomain: TimeDomain;
}

/**
 * Processes the records of one key at a time, with keyed state and timers (Flink's
 * KeyedProcessFunction). `onTimer` runs when a timer of the key fires; what it emits carries the
 * timer's timestamp for event-time timers.
 */
export interface KeyedProcessFunction<K, T, R> extends RichFunction {
  processElement(value: T, ctx: KeyedProcessContext<K>, out: Collector<R>): void;
  onTimer?(timestamp: number, ctx: OnTimerContext<K>, out: Collector<R>): void;
}

/** Processes the records of two connected streams (Flink's CoProcessFunction). */
export interface CoProcessFunction<IN1, IN2, R> extends RichFunction {
  processElement1(value: IN1, ctx: ProcessContext, out: Collector<R>): void;
  processElement2(value: IN2, ctx: ProcessContext, out: Collector<R>): void;
}

/** Processes two connected keyed streams, with keyed state and timers shared by both inputs of a key. */
export interface KeyedCoProcessFunction<K, IN1, IN2, R> extends RichFunction {
  processElement1(value: IN1, ctx: KeyedProcessContext<K>, out: Collector<R>): void;
  processElement2(value: IN2, ctx: KeyedProcessContext<K>, out: Collector<R>): void;
  onTimer?(timestamp: number, ctx: OnTimerContext<K>, out: Collector<R>): void;
}

export interface CoMapFunction<IN1, IN2, R> extends RichFunction {
  map1(value: IN1): R;
  map2(value: IN2): R;
}

export interface CoFlatMapFunction<IN1, IN2, R> extends RichFunction {
  flatMap1(value: IN1, out: Collector<R>): void;
  flatMap2(value: IN2, out: Collector<R>): void;
}

/** Calls a checkpoint hook of a user function when it has it. */
export async function callHook(fn: unknown, hook: "initializeState" | "notifyCheckpointComplete" | "notifyCheckpointAborted", arg: unknown): Promise<void> {
  const f = (fn as Record<string, unknown> | null)?.[hook];
  if (fn && typeof fn === "object" && typeof f === "function") await (f as (a: unknown) => unknown).call(fn, arg);
}

export function callSnapshotHook(fn: unknown, checkpointId: number): void {
  const f = (fn as Record<string, unknown> | null)?.snapshotState;
  if (fn && typeof fn === "object" && typeof f === "function") (f as (a: unknown) => void).call(fn, { checkpointId });
}

/** Calls `open` when the function has one. */
export async function openFunction(fn: unknown, ctx: RuntimeContext): Promise<void> {
  if (fn && typeof fn === "object" && typeof (fn as RichFunction).open === "function") await (fn as RichFunction).open!(ctx);
}

export async function closeFunction(fn: unknown): Promise<void> {
  if (fn && typeof fn === "object" && typeof (fn as RichFunction).close === "function") await (fn as RichFunction).close!();
}
