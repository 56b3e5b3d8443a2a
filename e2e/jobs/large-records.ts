/**
 * Large records into a slow sink: an unbounded datagen of records `{i, payload}` whose payloads are
 * `--sizes` bytes long (a comma-separated list, used in turn: "100,1048576" mixes both), keyed by
 * i % 16 into a sink that takes `--rate` records per second per subtask. Parallelism 2.
 */
import type { Sink, SinkWriter, StreamExecutionEnvironment } from "@riffle/sdk";

class Paced implements Sink<{ i: number; payload: string }> {
  constructor(private readonly perSecond: number) {}

  createWriter(ctx: Parameters<Sink<unknown>["createWriter"]>[0]): SinkWriter<{ i: number; payload: string }> {
    const written = ctx.metrics.counter("large_records_written");
    const bytes = ctx.metrics.counter("large_records_bytes");
    const gap = 1000 / this.perSecond;
    let readyAt = 0;
    return {
      write(record) {
        written.inc();
        bytes.inc(record.payload.length);
        readyAt = performance.now() + gap;
      },
      isAvailable: () => performance.now() >= readyAt,
      // The sink's pace is the test's point: it is ready again at a clock time.
      available: () => new Promise((resolve) => setTimeout(resolve, Math.max(0, readyAt - performance.now()))),
    };
  }
}

export default function largeRecords(env: StreamExecutionEnvironment): void {
  env.setParallelism(2);
  const sizes = env
    .param("sizes", "1048576")
    .split(",")
    .map((s) => Number(s));
  const rate = Number(env.param("rate", "3"));
  // One payload string per size, shared by the records: the point is what the network holds.
  const payloads = sizes.map((n) => "x".repeat(n));
  env
    .datagen({ generator: (i) => ({ i, payload: payloads[i % payloads.length]! }) })
    .name("large records")
    .uid("large-records")
    .keyBy((r) => r.i % 16)
    .sinkTo(new Paced(rate))
    .name("slow sink");
}
