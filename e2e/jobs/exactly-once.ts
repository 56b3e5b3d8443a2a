/**
 * Exactly-once pipeline for the chaos test: a bounded datagen → keyBy → a count per key in keyed
 * state → the exactly-once file sink, checkpointing every 500 ms.
 *
 * The rolling counts form the same multiset in every correct run, whatever the order records
 * arrive in ((k, 1), (k, 2), ..., (k, n_k) for every key k): committed output can be compared with a
 * failure-free run exactly.
 *
 *   args: --out <dir> --count <records> --rate <records/s, 0 = unlimited> --backend memory|leveldb
 *         [--checkpoint-interval <ms>, default 500]
 */
import {
  ValueStateDescriptor,
  type KeyedProcessFunction,
  type StreamExecutionEnvironment,
  type ValueState,
  type FunctionInitializationContext,
} from "@riffle/sdk";

/** A count per key in ValueState, emitted as (key, count) after every record. */
export class CountPerKey implements KeyedProcessFunction<number, number, [number, number]> {
  private count!: ValueState<number>;

  initializeState(ctx: FunctionInitializationContext): void {
    this.count = ctx.keyedState!.getState(new ValueStateDescriptor<number>("count", 0));
  }

  snapshotState(): void {}

  processElement(
    _value: number,
    ctx: Parameters<KeyedProcessFunction<number, number, [number, number]>["processElement"]>[1],
    out: { collect(r: [number, number]): void },
  ): void {
    const n = (this.count.value() ?? 0) + 1;
    this.count.update(n);
    out.collect([ctx.getCurrentKey(), n]);
  }
}

export default function exactlyOnce(env: StreamExecutionEnvironment): void {
  const rate = Number(env.param("rate", "0"));
  env.enableCheckpointing(Number(env.param("checkpoint-interval", "500")));
  env.setStateBackend(env.param("backend", "leveldb") as "memory" | "leveldb");
  env.setRestartStrategy({ type: "fixed-delay", attempts: 100, delayMs: 200 });
  env
    .datagen({ count: Number(env.param("count")), ...(rate > 0 ? { ratePerSecond: rate } : {}), generator: (i) => i })
    .uid("numbers")
    .keyBy((i) => i % 1000)
    .process(new CountPerKey())
    .uid("count-per-key")
    .writeExactlyOnce(env.param("out"))
    .uid("files");
}
