import type { AggregatingStateDescriptor, ListStateDescriptor, MapStateDescriptor, ReducingStateDescriptor, ValueStateDescriptor } from "./descriptors.js";
import type { AggregatingState, ListState, MapState, ReducingState, ValueState } from "./state.js";

/**
 * Where a keyed function gets its state from (Flink's `getRuntimeContext().getState(desc)`). Asking
 * twice with the same name returns the same state object; it always reads and writes the value of the
 * current key.
 *
 * ```ts
 * class CountPerKey implements KeyedProcessFunction<string, Event, [string, number]> {
 *   private count!: ValueState<number>;
 *   open(ctx: RuntimeContext & KeyedStateStore) {
 *     this.count = ctx.getState(new ValueStateDescriptor<number>("count", 0));
 *   }
 *   processElement(e: Event, ctx: KeyedProcessContext<string>, out: Collector<[string, number]>) {
 *     const n = (this.count.value() ?? 0) + 1;
 *     this.count.update(n);
 *     out.collect([ctx.getCurrentKey(), n]);
 *   }
 * }
 * ```
 */
export interface KeyedStateStore {
  getState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T>;
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  getMapState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V>;
  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T>;
  getAggregatingState<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT>;
}

/**
 * How operator (non-keyed) list state is handed out when a job restores at another parallelism:
 * `split` concatenates every old subtask's list and gives each new subtask a contiguous share (a
 * source's splits or offsets); `union` gives every new subtask all elements (each picks its own).
 */
export type OperatorStateMode = "split" | "union";

/**
 * Non-keyed state of one operator subtask: named lists that are checkpointed with the subtask and
 * redistributed on restore by their mode.
 */
export interface OperatorStateStore {
  /** A list redistributed by even split on restore. */
  getListState<T>(descriptor: string | ListStateDescriptor<T>): ListState<T>;
  /** A list every subtask gets whole on restore. */
  getUnionListState<T>(descriptor: string | ListStateDescriptor<T>): ListState<T>;
  /** Whether a list of that name exists: asked for, or restored (a state an earlier version of the job kept). */
  has?(name: string): boolean;
}
