/** An unbounded keyed job (parallelism from the submission) that runs until cancelled. */
import type { StreamExecutionEnvironment } from "@riffle/sdk";

export default function unbounded(env: StreamExecutionEnvironment): void {
  env
    .datagen({ ratePerSecond: Number(env.param("rate", "2000")), generator: (i) => ({ key: `k${i % 50}`, n: 1 }) })
    .keyBy((r) => r.key)
    .sum("n")
    .sinkTo({ createWriter: () => ({ write() {} }) })
    .name("discard");
}
