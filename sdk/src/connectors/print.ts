import type { RuntimeContext } from "../api/functions.js";
import type { Sink, SinkWriter } from "../api/sink.js";
import { formatRecord } from "./format.js";

/** Prints records to the TaskManager's stdout; with parallelism > 1 each line starts with `<subtask+1>> `, as in Flink. */
export class PrintSink<T> implements Sink<T> {
  createWriter(ctx: RuntimeContext): SinkWriter<T> {
    const prefix = ctx.parallelism > 1 ? `${ctx.subtaskIndex + 1}> ` : "";
    return new StreamWriter<T>(process.stdout, (r) => `${prefix}${formatRecord(r)}\n`);
  }
}

/**
 * Writes lines to a Node stream, reporting no room while the stream wants a drain. The drain listener
 * is registered when a write reports the stream full, so a drain can never be missed.
 */
export class StreamWriter<T> implements SinkWriter<T> {
  private drained: Promise<void> | undefined;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly format: (record: T) => string,
  ) {}

  write(record: T): void {
    if (!this.stream.write(this.format(record)) && !this.drained) {
      this.drained = new Promise<void>((resolve) => {
        this.stream.once("drain", () => {
          this.drained = undefined;
          resolve();
        });
      });
    }
  }

  isAvailable(): boolean {
    return this.drained === undefined;
  }

  available(): Promise<void> {
    return this.drained ?? Promise.resolve();
  }

  async flush(_endOfInput: boolean): Promise<void> {
    await this.available();
  }
}
