/** Fails in a map after a rebalance at parallelism 2: producers finish while their consumer fails. */
import type { StreamExecutionEnvironment } from "@riffle/sdk";

export default function failsAfterShuffle(env: StreamExecutionEnvironment): void {
  env
    .fromCollection(Array.from({ length: 100_000 }, (_, i) => i))
    .rebalance()
    .map((x) => {
      if (x === 60_000) throw new Error(`cannot handle record ${x}`);
      return x;
    })
    .setParallelism(2)
    .collect();
}
