/**
 * A slow operator in the middle: an unbounded datagen, rebalanced into a map that spends `--cost-ms`
 * of CPU on each record (a busy wait: its own code is the bottleneck), rebalanced into a sink that
 * discards. Parallelism 1.
 */
import type { StreamExecutionEnvironment } from "@riffle/sdk";

export default function slowMap(env: StreamExecutionEnvironment): void {
  env.setParallelism(1);
  const cost = Number(env.param("cost-ms", "1"));
  env
    .datagen({ generator: (i) => ({ i }) })
    .name("fast source")
    .rebalance()
    .map((r) => {
      const until = performance.now() + cost;
      while (performance.now() < until) {}
      return r;
    })
    .name("slow map")
    .rebalance()
    .sinkTo({ createWriter: () => ({ write() {} }) })
    .name("discard");
}
