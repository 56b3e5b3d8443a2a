/** Generated records with a seed, written one per line: `--out <dir> --rate <records/s, 0 = unlimited>`. */
import type { StreamExecutionEnvironment } from "@riffle/sdk";

export default function datagenDeterminism(env: StreamExecutionEnvironment): void {
  const rate = Number(env.param("rate", "0"));
  env
    .datagen({ count: 600, seed: 42, ...(rate > 0 ? { ratePerSecond: rate } : {}), generator: (i, random) => ({ i, v: random.int(1_000_000) }) })
    .writeAsText(env.param("out"));
}
