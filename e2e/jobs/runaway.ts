/**
 * User code that misbehaves in a map, once records flow (`--mode`):
 *   loop      loops forever on the first record (and ignores cancellation)
 *   allocate  keeps every record it sees and more, until the heap runs out
 *   exit      calls process.exit(3)
 *   compute   computes for `--seconds` without yielding on the first record, then passes records on
 * Parallelism 1: datagen (`--count` records, unbounded by default) → map → discarding sink.
 */
import type { StreamExecutionEnvironment } from "@riffle/sdk";

export default function runaway(env: StreamExecutionEnvironment): void {
  env.setParallelism(1);
  const mode = env.param("mode", "loop");
  const seconds = Number(env.param("seconds", "20"));
  const count = env.param("count", "");
  const kept: unknown[] = [];
  let first = true;
  env
    .datagen({ generator: (i) => ({ i }), ...(count ? { count: Number(count) } : { ratePerSecond: 100 }) })
    .map((r) => {
      if (mode === "loop") for (;;) {}
      if (mode === "allocate") for (let n = 0; n < 100_000; n++) kept.push({ n, text: `record ${r.i} copy ${n}` });
      if (mode === "exit") process.exit(3);
      if (mode === "compute" && first) {
        first = false;
        const until = Date.now() + seconds * 1000;
        while (Date.now() < until) {}
      }
      return r;
    })
    .name(`runaway ${mode}`)
    .sinkTo({ createWriter: () => ({ write() {} }) })
    .name("discard");
}
