/**
 * The keyed-state benchmarks' job (state-backends, checkpoint-1m-keys, recovery): datagen of string
 * keys → keyBy → a count per key in a ValueState (KeyedProcessFunction) → discarding sink, with
 * checkpoints, at parallelism 1 unless submitted with another.
 *
 *   args: --backend memory|leveldb  --keys <distinct keys>  --interval <checkpoint interval, ms>
 *         [--count <records>]   bounded; without it the stream is unbounded
 *         [--rate <records/s>]  rate-limited; without it as fast as the pipeline takes records
 *         [--restart none|fixed-0]  fixed-0: { type: "fixed-delay", attempts: 10, delayMs: 0 }
 */
import {
  ValueStateDescriptor,
  type Collector,
  type FunctionInitializationContext,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type StreamExecutionEnvironment,
  type ValueState,
} from "@riffle/sdk";
import { stateKey } from "./records.js";

class CountPerKey implements KeyedProcessFunction<string, string, number> {
  private count!: ValueState<number>;

  initializeState(ctx: FunctionInitializationContext): void {
    this.count = ctx.keyedState!.getState(new ValueStateDescriptor<number>("count", 0));
  }

  snapshotState(): void {}

  processElement(_key: string, _ctx: KeyedProcessContext<string>, out: Collector<number>): void {
    const n = (this.count.value() ?? 0) + 1;
    this.count.update(n);
    out.collect(n);
  }
}

export default function keyedState(env: StreamExecutionEnvironment): void {
  const keys = Number(env.param("keys"));
  const count = env.param("count", "");
  const rate = env.param("rate", "");
  env.setParallelism(1);
  env.enableCheckpointing(Number(env.param("interval")));
  env.setStateBackend(env.param("backend") as "memory" | "leveldb");
  if (env.param("restart", "none") === "fixed-0") env.setRestartStrategy({ type: "fixed-delay", attempts: 10, delayMs: 0 });
  env
    .datagen({
      generator: (i) => stateKey(i, keys),
      ...(count ? { count: Number(count) } : {}),
      ...(rate ? { ratePerSecond: Number(rate) } : {}),
    })
    .uid("keys")
    .keyBy((k) => k)
    .process(new CountPerKey())
    .uid("count-per-key")
    .name("count per key")
    .sinkTo({ createWriter: () => ({ write() {} }) })
    .name("discard");
}
