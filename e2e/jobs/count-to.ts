/** A bounded job for the dashboard's upload test: `--count` numbers (default 5000) → map → a discarding sink. */
import type { StreamExecutionEnvironment } from "@riffle/sdk";

export default function countTo(env: StreamExecutionEnvironment): void {
  const count = Number(env.param("count", "5000"));
  env
    .datagen({ count, generator: (i) => i })
    .name("numbers")
    .map((i: number) => i * 2)
    .name("double")
    .rebalance()
    .sinkTo({ createWriter: () => ({ write() {} }) })
    .name("discard");
}
