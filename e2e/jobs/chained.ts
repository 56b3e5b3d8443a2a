/**
 * A job chained into one vertex: datagen → map → sink at parallelism 1, so no record crosses the
 * network (the task's network counters stay 0). `--rate <records/s>`; `--autoscaler <json of
 * job.autoscaler.* settings>` turns the autoscaler on (with checkpoints, which it needs).
 */
import type { StreamExecutionEnvironment } from "@riffle/sdk";

export default function chained(env: StreamExecutionEnvironment): void {
  env.setParallelism(1);
  const autoscaler = env.param("autoscaler", "");
  if (autoscaler) {
    env.enableCheckpointing(1000);
    env.enableAutoscaling(JSON.parse(autoscaler) as Record<string, string | number | boolean>);
  }
  env
    .datagen({ ratePerSecond: Number(env.param("rate", "2000")), generator: (i) => i })
    .map((n) => n * 2)
    .sinkTo({ createWriter: () => ({ write() {} }) })
    .name("discard");
}
