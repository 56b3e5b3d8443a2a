import type { Sink, SinkWriter } from "@riffle/sdk";

/**
 * Drops every record (Flink's blackhole connector): Nexmark's published runs write their results there,
 * so that the numbers measure the query and not the sink. The task's own record counters still count
 * what reached it.
 */
export class DiscardSink<T> implements Sink<T> {
  createWriter(): SinkWriter<T> {
    return { write() {} };
  }
}
