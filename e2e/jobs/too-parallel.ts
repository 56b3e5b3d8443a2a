import type { StreamExecutionEnvironment } from "@riffle/sdk";

export default function tooParallel(env: StreamExecutionEnvironment): void {
  env.setMaxParallelism(4);
  env
    .datagen({ count: 10, generator: (i) => i })
    .map((x) => x)
    .setParallelism(8)
    .print();
}
