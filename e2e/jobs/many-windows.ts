/**
 * One event per key for many keys, each in its own 10 s tumbling window: the end of input fires them
 * all with one watermark. Writes one line per window.
 *
 *   args: --out <dir> --count <keys>
 */
import { type StreamExecutionEnvironment, TumblingEventTimeWindows, WatermarkStrategy } from "@riffle/sdk";

export default function manyWindows(env: StreamExecutionEnvironment): void {
  env
    .datagen({ count: Number(env.param("count")), generator: (i) => ({ key: i, time: i % 5_000 }) })
    .assignTimestampsAndWatermarks(WatermarkStrategy.forBoundedOutOfOrderness<{ key: number; time: number }>(5_000).withTimestampAssigner((e) => e.time))
    .keyBy((e) => e.key)
    .window(TumblingEventTimeWindows.of(10_000))
    .reduce((a) => a)
    .map((e) => String(e.key))
    .writeAsText(env.param("out"));
}
