/**
 * A running job with a 30-vertex graph for the dashboard's scale test: a source, four branches of
 * seven maps (each map its own vertex: a rebalance or a keyBy before it), and one sink fed by all four.
 */
import type { DataStream, StreamExecutionEnvironment } from "@riffle/sdk";

export default function wideGraph(env: StreamExecutionEnvironment): void {
  const rate = Number(env.param("rate", "200"));
  const source = env.datagen({ ratePerSecond: rate, generator: (i) => ({ key: `k${i % 16}`, n: i }) }).name("source");
  const branches: DataStream<{ key: string; n: number }>[] = [];
  for (let b = 0; b < 4; b++) {
    let stream: DataStream<{ key: string; n: number }> = source;
    for (let m = 0; m < 7; m++) {
      const input = m % 2 === 0 ? stream.rebalance() : stream.keyBy((r) => r.key);
      stream = input.map((r: { key: string; n: number }) => ({ key: r.key, n: r.n + 1 })).name(`branch ${b} step ${m}`);
    }
    branches.push(stream);
  }
  branches[0]!
    .union(...branches.slice(1))
    .rebalance()
    .sinkTo({ createWriter: () => ({ write() {} }) })
    .name("discard");
}
