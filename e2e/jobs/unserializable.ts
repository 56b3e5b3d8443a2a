/**
 * Records that cannot cross to the next task (`--what`: circular | function): a map builds them and
 * a rebalance sends them to another task.
 */
import type { StreamExecutionEnvironment } from "@riffle/sdk";

export default function unserializable(env: StreamExecutionEnvironment): void {
  const what = env.param("what", "circular");
  env
    .fromElements(1, 2, 3)
    .map((i) => {
      const record: Record<string, unknown> = { i };
      if (what === "circular") record.self = record;
      else record.callback = () => i;
      return record;
    })
    .name("builds odd records")
    .rebalance()
    .sinkTo({ createWriter: () => ({ write() {} }) })
    .name("discard");
}
