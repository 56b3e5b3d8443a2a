/**
 * Benchmark 2: datagen → keyBy → rolling count per key → discarding sink at parallelism 2. On two
 * TaskManagers of one slot each, subtask i of every vertex runs on TaskManager i, so the hash edge
 * sends about half the records to the other process over gRPC and half through local channels.
 *
 *   args: --count <records> --sink-counts <dir>   (the sink's count of writes goes to <dir>/sink-<i>.json)
 */
import type { StreamExecutionEnvironment } from "@riffle/sdk";
import { CountingDiscardSink, keyed } from "./records.js";

export default function keyedShuffle(env: StreamExecutionEnvironment): void {
  env.setParallelism(2);
  env
    .datagen({ count: Number(env.param("count")), generator: keyed })
    .keyBy((r) => r.key)
    .sum("n")
    .name("count per key")
    .sinkTo(new CountingDiscardSink(env.param("sink-counts")))
    .name("discard");
}
