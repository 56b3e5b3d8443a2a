/** A pipeline without a sink: it computes, and nothing would ever leave it. */
import type { StreamExecutionEnvironment } from "@riffle/sdk";

export default function noSink(env: StreamExecutionEnvironment): void {
  env.fromElements(1, 2, 3).map((x) => x * 2);
}
