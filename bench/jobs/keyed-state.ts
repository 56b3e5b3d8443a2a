/**
 * The keyed-state benchmarks' job (state-backends, checkpoint-1m-keys, recovery): datagen of string
 * keys → keyBy → a count per key in a ValueState (KeyedProcessFunction) → discarding sink, with
 * checkpoints, at parallelism 1 unless submitted with another.
 *
 *   args: --backend memory|leveldb  --keys <distinct keys>  --interval <checkpoint interval, ms>
 *         [--count <records>]   bounded; without it the stream is unbounded
 *         [--then-idle true]    with --count: the source emits its records, then stays idle
 *                               without ending (the job keeps running and checkpointing)
 *         [--rate <records/s>]  rate-limited; without it as fast as the pipeline takes records
 *         [--restart none|fixed-0]  fixed-0: { type: "fixed-delay", attempts: 10, delayMs: 0 }
 */
import {
  ValueStateDescriptor,
  type Collector,
  type FunctionInitializationContext,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type PollResult,
  type ReaderOutput,
  type RuntimeContext,
  type Source,
  type SourceReader,
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

/** Keys 0..count-1 (as datagen gives them), then nothing, without ending: an idle unbounded stream. */
class KeysThenIdle implements Source<string> {
  readonly boundedness = "unbounded";

  constructor(private readonly count: number) {}

  createReader(ctx: RuntimeContext, restored?: unknown[]): SourceReader<string> {
    const count = this.count;
    const step = ctx.parallelism;
    let next = (restored?.[0] as number | undefined) ?? ctx.subtaskIndex;
    return {
      pollNext(output: ReaderOutput<string>, max: number): PollResult {
        for (let n = 0; n < max && next < count; n++, next += step) output.collect(stateKey(next, count));
        return next < count ? "MORE_AVAILABLE" : "NOTHING_AVAILABLE";
      },
      // Idle: nothing will come; the task still handles checkpoints and cancellation meanwhile.
      isAvailable: () => new Promise((resolve) => setTimeout(resolve, 1000)),
      snapshotState: () => [next],
    };
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
  const source =
    count && env.param("then-idle", "") === "true"
      ? env.fromSource(new KeysThenIdle(Number(count)), "Keys then idle")
      : env.datagen({
          generator: (i) => stateKey(i, keys),
          ...(count ? { count: Number(count) } : {}),
          ...(rate ? { ratePerSecond: Number(rate) } : {}),
        });
  source
    .uid("keys")
    .keyBy((k) => k)
    .process(new CountPerKey())
    .uid("count-per-key")
    .name("count per key")
    .sinkTo({ createWriter: () => ({ write() {} }) })
    .name("discard");
}
