/**
 * The Nexmark benchmark's job: examples/nexmark's source and queries (the same as
 * examples/nexmark/job.ts with `--sink discard`), with two end marks for the benchmark.
 *
 * A bounded job with checkpoints ends only after a final checkpoint (FLIP-147): once its input is
 * exhausted, the source waits for the next periodic trigger, up to one interval of idling that
 * FINISHED − RUNNING would count as processing. So the job writes, per subtask, when its work ended,
 * into files under `--marks <dir>` that the benchmark reads after FINISHED:
 *
 *   source-<i>.json  {"endedAt": ms}                  the reader returned END_OF_INPUT
 *   sink-<i>.json    {"writes": n, "firstWriteAt": ms, "lastWriteAt": ms}  the last record reached the discarding sink
 *
 * Times are epoch ms (Date.now(), the JobManager's clock for status timestamps on the same machine).
 * The sink takes no clock per record: a 1 ms timer notes when the write count last changed, which
 * the task lets run between its 2 ms slices, so a mark is late by a few ms at most (plus the rest of
 * the step that wrote the last record). The last mark of all is when the last record of the job was
 * processed: after it comes only the final checkpoint's wait and the teardown.
 *
 *   sink-<i>.json also has "firstWriteAt": when the first record reached the sink (event-time
 *   queries: when the first window fired), so the benchmark can tell windows that fired during the
 *   run from windows that fired only at the end of input.
 *
 *   args: --query q0|q1|q2|q5|q7 --count <events> --checkpoint-interval <ms, 0: none>
 *         --backend memory|leveldb [--marks <dir>]
 *         [--events-per-second <event-time rate>]  default Nexmark's 10M/s: the span of event time
 *                                                  the events cover (not a wall-clock rate)
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type PollResult,
  type ReaderOutput,
  type RuntimeContext,
  type Sink,
  type SinkWriter,
  type Source,
  type SourceReader,
  type SourceReaderContext,
  type StreamExecutionEnvironment,
  WatermarkStrategy,
} from "@riffle/sdk";
import type { Event } from "../../examples/nexmark/model.js";
import { isQueryName, type NexmarkQuery, QUERIES } from "../../examples/nexmark/queries/index.js";
import { NexmarkSource } from "../../examples/nexmark/source.js";

/** Wraps a source and notes when each subtask's reader reached the end of its input. */
class EndMarkingSource<T> implements Source<T> {
  readonly boundedness: Source<T>["boundedness"];
  readonly stateMode: Source<T>["stateMode"];

  constructor(
    private readonly inner: Source<T>,
    private readonly marks: string,
  ) {
    this.boundedness = inner.boundedness;
    this.stateMode = inner.stateMode;
  }

  createReader(ctx: SourceReaderContext, restored?: unknown[]): SourceReader<T> {
    const reader = this.inner.createReader(ctx, restored);
    const file = join(this.marks, `source-${ctx.subtaskIndex}.json`);
    let ended = false;
    return {
      start: () => reader.start?.(),
      snapshotState: (checkpointId: number) => reader.snapshotState?.(checkpointId) ?? [],
      pollNext(output: ReaderOutput<T>, max: number): PollResult {
        const result = reader.pollNext(output, max);
        if (result === "END_OF_INPUT" && !ended) {
          ended = true;
          writeFileSync(file, JSON.stringify({ endedAt: Date.now() }));
        }
        return result;
      },
      isAvailable: () => reader.isAvailable(),
      close: () => reader.close?.(),
    };
  }
}

/** Drops every record (as Nexmark's blackhole) and notes when the last one came. */
class EndMarkingDiscardSink<T> implements Sink<T> {
  constructor(private readonly marks: string) {}

  createWriter(ctx: RuntimeContext): SinkWriter<T> {
    const file = join(this.marks, `sink-${ctx.subtaskIndex}.json`);
    let writes = 0;
    let noted = 0;
    let lastWriteAt: number | null = null;
    let firstWriteAt: number | null = null;
    const note = () => {
      if (writes !== noted) {
        noted = writes;
        lastWriteAt = Date.now();
        firstWriteAt ??= lastWriteAt;
      }
    };
    const timer = setInterval(note, 1);
    timer.unref();
    return {
      write() {
        writes++;
      },
      // End of input: the sink's inputs ended, which comes after the final checkpoint. Writes that
      // no tick noted came in this very step (no final checkpoint in between: a job without
      // checkpoints): now is when they ended, give or take the step.
      flush() {
        clearInterval(timer);
        note();
        writeFileSync(file, JSON.stringify({ writes, firstWriteAt, lastWriteAt }));
      },
      close() {
        clearInterval(timer);
      },
    };
  }
}

/** A sink that drops everything and notes nothing (no --marks). */
const DISCARD: Sink<unknown> = { createWriter: () => ({ write() {} }) };

export default function nexmark(env: StreamExecutionEnvironment): void {
  const query = env.param("query");
  if (!isQueryName(query)) throw new Error(`unknown --query ${query}`);
  const events = Number(env.param("count"));
  const interval = Number(env.param("checkpoint-interval", "0"));
  const marks = env.param("marks", "");
  if (interval > 0) env.enableCheckpointing(interval);
  env.setStateBackend(env.param("backend", "memory") as "memory" | "leveldb");
  env.setJobName(`nexmark-${query}`);

  // As examples/nexmark/queries/streams.ts's nexmarkEvents: Nexmark's workload (10M events/s of event
  // time unless --events-per-second, in order, seed 0), timestamps from the events and a watermark trailing by 0 ms.
  const eventsPerSecond = env.param("events-per-second", "");
  const nexmarkSource = new NexmarkSource({ maxEvents: events, ...(eventsPerSecond ? { eventsPerSecond: Number(eventsPerSecond) } : {}) });
  const source = marks === "" ? nexmarkSource : new EndMarkingSource<Event>(nexmarkSource, marks);
  const stream = env.fromSource(source, WatermarkStrategy.forBoundedOutOfOrderness<Event>(0), "Nexmark Source").uid("nexmark-source");
  const rows = (QUERIES[query] as NexmarkQuery<unknown>)(stream, env);
  rows.sinkTo(marks === "" ? DISCARD : new EndMarkingDiscardSink<unknown>(marks)).name("Discard Sink");
}
