import type { StreamExecutionEnvironment } from "@riffle/sdk";

export function job(env: StreamExecutionEnvironment): void {
  env.fromElements(1).print();
}
