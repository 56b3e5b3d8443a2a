/**
 * Flow-control job: an unbounded datagen as fast as it is allowed, rebalanced across TaskManagers into
 * a sink that takes about one record per millisecond (it has room again 1 ms after each write).
 */
import type { Sink, SinkWriter, StreamExecutionEnvironment } from "@riffle/sdk";

class OneRecordPerMillisecond implements Sink<unknown> {
  createWriter(ctx: Parameters<Sink<unknown>["createWriter"]>[0]): SinkWriter<unknown> {
    const written = ctx.metrics.counter("slow_sink_records");
    let readyAt = 0;
    return {
      write() {
        written.inc();
        readyAt = performance.now() + 1;
      },
      isAvailable: () => performance.now() >= readyAt,
      // The sink's pace is the test's point: it is ready again at a clock time.
      available: () => new Promise((resolve) => setTimeout(resolve, Math.max(0, readyAt - performance.now()))),
    };
  }
}

export default function slowSink(env: StreamExecutionEnvironment): void {
  env.setParallelism(2);
  // `--checkpoint <ms>`: checkpoints through the back-pressured pipeline (aligned barriers).
  const interval = Number(env.param("checkpoint", "0"));
  if (interval > 0) env.enableCheckpointing(interval, { timeoutMs: 60_000 });
  // `--rate <n>`: a rate-limited source, whose backlog (pendingRecords) grows while the sink holds it back.
  const rate = Number(env.param("rate", "0"));
  const payload = "x".repeat(100);
  env
    .datagen({ generator: (i) => ({ i, payload }), ...(rate > 0 ? { ratePerSecond: rate } : {}) })
    .name("fast source")
    .uid("fast-source")
    .rebalance()
    .sinkTo(new OneRecordPerMillisecond())
    .name("slow sink");
}
