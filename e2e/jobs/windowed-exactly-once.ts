/**
 * Event-time windows under failures: a bounded datagen of out-of-order events → keyBy → 1 s tumbling
 * windows (an incremental count and sum) and 3 s/1 s sliding windows (count) → the exactly-once file
 * sink, checkpointing every 300 ms. Each window result is a pure function of the input, so committed
 * output can be compared with a failure-free run and with the brute-force expectation exactly.
 *
 *   args: --out <dir> --count <events> --rate <events/s, 0 = unlimited> --backend memory|leveldb
 */
import { SlidingEventTimeWindows, type StreamExecutionEnvironment, TumblingEventTimeWindows, WatermarkStrategy } from "@riffle/sdk";

export const KEYS = 50;
/** Events per second of event time. */
export const EVENTS_PER_SECOND = 5_000;
export const OUT_OF_ORDERNESS_MS = 400;

export interface Ev {
  key: number;
  time: number;
  value: number;
}

/** Event i: event time advances 1 s per EVENTS_PER_SECOND events, minus a deterministic jitter of up to the bound. */
export function event(i: number): Ev {
  const jitter = (Math.imul(i, 2654435761) >>> 0) % OUT_OF_ORDERNESS_MS;
  return { key: i % KEYS, time: Math.max(0, Math.floor((i * 1000) / EVENTS_PER_SECOND) - jitter), value: i % 7 };
}

export default function windowedExactlyOnce(env: StreamExecutionEnvironment): void {
  const rate = Number(env.param("rate", "0"));
  env.enableCheckpointing(300);
  env.setStateBackend(env.param("backend", "leveldb") as "memory" | "leveldb");
  env.setRestartStrategy({ type: "fixed-delay", attempts: 100, delayMs: 200 });
  env.setAutoWatermarkInterval(50);
  const events = env
    .datagen({ count: Number(env.param("count")), ...(rate > 0 ? { ratePerSecond: rate } : {}), generator: event })
    .uid("events")
    .assignTimestampsAndWatermarks(WatermarkStrategy.forBoundedOutOfOrderness<Ev>(OUT_OF_ORDERNESS_MS).withTimestampAssigner((e) => e.time))
    .uid("timestamps");
  const byKey = events.keyBy((e) => e.key);
  const tumbling = byKey
    .window(TumblingEventTimeWindows.of(1000))
    .aggregate(
      {
        createAccumulator: () => [0, 0] as [number, number],
        add: (e: Ev, acc: [number, number]) => [acc[0] + 1, acc[1] + e.value] as [number, number],
        getResult: (acc: [number, number]) => acc,
        merge: (a: [number, number], b: [number, number]) => [a[0] + b[0], a[1] + b[1]] as [number, number],
      },
      (key: number, ctx, results: [number, number][], out) => {
        const [count, sum] = results[0]!;
        out.collect(`T ${key} ${ctx.window.start} ${count} ${sum}`);
      },
    )
    .uid("tumbling");
  const sliding = byKey
    .window(SlidingEventTimeWindows.of(3000, 1000))
    .aggregate(
      {
        createAccumulator: () => 0,
        add: (_e: Ev, n: number) => n + 1,
        getResult: (n: number) => n,
        merge: (a: number, b: number) => a + b,
      },
      (key: number, ctx, counts: number[], out) => out.collect(`S ${key} ${ctx.window.start} ${counts[0]}`),
    )
    .uid("sliding");
  tumbling.union(sliding).writeExactlyOnce(env.param("out")).uid("files");
}
