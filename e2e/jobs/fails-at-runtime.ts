import type { StreamExecutionEnvironment } from "@riffle/sdk";

export default function failsAtRuntime(env: StreamExecutionEnvironment): void {
  env
    .fromElements(1, 2, 3, 4)
    .map((x) => {
      if (x === 3) throw new Error(`cannot handle record ${x}`);
      return x;
    })
    .collect();
}
