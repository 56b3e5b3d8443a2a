/**
 * Benchmark 1: datagen → map → filter → discarding sink at parallelism 1. Every edge is forward with
 * equal parallelism, so the four operators chain into one task: the job measures the per-record cost
 * of the task loop, the source reader and the chain's function calls.
 *
 *   args: --count <records> --sink-counts <dir>   (the sink's count of writes goes to <dir>/sink-<i>.json)
 */
import type { StreamExecutionEnvironment } from "@riffle/sdk";
import { CountingDiscardSink, doubled, notMultipleOfThree, reading } from "./records.js";

export default function statelessChain(env: StreamExecutionEnvironment): void {
  env.setParallelism(1);
  env
    .datagen({ count: Number(env.param("count")), generator: reading })
    .map(doubled)
    .filter(notMultipleOfThree)
    .sinkTo(new CountingDiscardSink(env.param("sink-counts")))
    .name("discard");
}
