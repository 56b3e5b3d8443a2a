/** An unbounded keyed job (parallelism from the submission) that runs until cancelled; `--checkpoint <ms>` takes checkpoints. */
import type { StreamExecutionEnvironment } from "@riffle/sdk";

export default function unbounded(env: StreamExecutionEnvironment): void {
  const interval = Number(env.param("checkpoint", "0"));
  if (interval > 0) env.enableCheckpointing(interval);
  env
    .datagen({ ratePerSecond: Number(env.param("rate", "2000")), generator: (i) => ({ key: `k${i % 50}`, n: 1 }) })
    .keyBy((r) => r.key)
    .sum("n")
    .sinkTo({ createWriter: () => ({ write() {} }) })
    .name("discard");
}
