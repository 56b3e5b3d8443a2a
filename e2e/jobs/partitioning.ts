/**
 * Every partitioning in one job, each ending in a file sink per branch, so the test can count where
 * records went: `--out <dir>`.
 */
import type { StreamExecutionEnvironment } from "@riffle/sdk";

export default function partitioning(env: StreamExecutionEnvironment): void {
  const out = env.param("out");
  const numbers = env.fromCollection(Array.from({ length: 1000 }, (_, i) => i));
  const tag = (what: string) => (x: number) => ({ what, x });
  numbers.broadcast().map(tag("broadcast")).setParallelism(2).writeAsText(`${out}/broadcast`).setParallelism(2);
  numbers.rebalance().map(tag("rebalance")).setParallelism(2).writeAsText(`${out}/rebalance`).setParallelism(2);
  numbers.shuffle().map(tag("shuffle")).setParallelism(2).writeAsText(`${out}/shuffle`).setParallelism(2);
  numbers
    .rebalance()
    .map((x) => x)
    .setParallelism(2)
    .rescale()
    .map(tag("rescale"))
    .setParallelism(4)
    .writeAsText(`${out}/rescale`)
    .setParallelism(4);
  numbers
    .union(env.fromElements(-1, -2, -3))
    .map(tag("union"))
    .writeAsText(`${out}/union`);
}
