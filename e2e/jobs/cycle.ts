import type { StreamExecutionEnvironment } from "@riffle/sdk";

export default function cycle(env: StreamExecutionEnvironment): void {
  const loop = env.fromElements(1, 2, 3).iterate();
  loop.closeWith(loop.map((x) => x + 1).filter((x) => x < 10));
}
