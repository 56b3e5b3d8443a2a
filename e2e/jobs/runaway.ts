/**
 * User code that misbehaves in a map, once records flow (`--mode`):
 *   loop      loops forever on the first record (and ignores cancellation)
 *   allocate  keeps every record it sees and more, until the heap runs out
 *   exit      calls process.exit(3)
 *   compute   computes for `--seconds` without yielding on the first record, then passes records on
 * Parallelism 1: datagen (`--count` records, unbounded by default) → map → discarding sink.
 * `--parallelism 2`: datagen → keyBy → map → sink, the map reading from both sources (one of them in
 * another slot or TaskManager); in `compute` mode only the subtask that gets record 0 computes, so the
 * other one keeps running meanwhile.
 */
import type { StreamExecutionEnvironment } from "@riffle/sdk";

export default function runaway(env: StreamExecutionEnvironment): void {
  const parallelism = Number(env.param("parallelism", "1"));
  env.setParallelism(parallelism);
  const mode = env.param("mode", "loop");
  const seconds = Number(env.param("seconds", "20"));
  const count = env.param("count", "");
  const kept: unknown[] = [];
  let first = true;
  const generated = env.datagen({ generator: (i) => ({ i }), ...(count ? { count: Number(count) } : { ratePerSecond: 100 }) });
  const input = parallelism > 1 ? generated.keyBy((r) => r.i % 10) : generated;
  input
    .map((r) => {
      if (mode === "loop") for (;;) {}
      if (mode === "allocate") for (let n = 0; n < 100_000; n++) kept.push({ n, text: `record ${r.i} copy ${n}` });
      if (mode === "exit") process.exit(3);
      if (mode === "compute" && first && (parallelism === 1 || r.i === 0)) {
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
