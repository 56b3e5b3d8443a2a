/**
 * The dashboard benchmark's job: 30 vertices in a row at parallelism 1 (a rate-limited datagen, 28
 * maps each behind a rebalance, so none chains with the next, and a discarding sink), running until
 * cancelled. `--rate` records per second (default 1000).
 */
import type { StreamExecutionEnvironment } from "@riffle/sdk";

export default function wideGraph(env: StreamExecutionEnvironment): void {
  env.setParallelism(1);
  let stream = env.datagen({ ratePerSecond: Number(env.param("rate", "1000")), generator: (i) => i }).name("source");
  for (let i = 1; i <= 28; i++)
    stream = stream
      .rebalance()
      .map((x: number) => x + 1)
      .name(`step ${i}`);
  stream
    .rebalance()
    .sinkTo({ createWriter: () => ({ write() {} }) })
    .name("sink");
}
