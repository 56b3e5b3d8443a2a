import type { StreamExecutionEnvironment } from "@riffle/sdk";

export default function neverReturns(env: StreamExecutionEnvironment): void {
  env.fromElements(1);
  for (;;) {
    // builds forever
  }
}
