import type { StreamExecutionEnvironment } from "@riffle/sdk";

export default function throwsWhilePlanning(env: StreamExecutionEnvironment): void {
  env.fromElements(1, 2, 3);
  throw new Error("the job's author made a mistake");
}
