import type { StreamExecutionEnvironment } from "@riffle/sdk";

export default async function neverSettles(env: StreamExecutionEnvironment): Promise<void> {
  env.fromElements(1).print();
  await new Promise(() => {});
}
