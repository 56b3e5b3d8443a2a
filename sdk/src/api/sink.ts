import type { RuntimeContext } from "./functions.js";

/**
 * A sink writes records; when it cannot take more (a full socket, a slow client) it says so through
 * `isAvailable()` and the task stops feeding it until `available()` resolves, which back-pressures
 * the whole pipeline instead of growing memory.
 */
export interface SinkWriter<T> {
  write(record: T): void;
  /** False while the writer has no room; the task then waits on `available()`. */
  isAvailable?(): boolean;
  available?(): Promise<void>;
  /** Called at end of input: write out everything buffered. */
  flush?(): void | Promise<void>;
  close?(): void | Promise<void>;
}

export interface Sink<T> {
  createWriter(ctx: RuntimeContext, services: SinkServices): SinkWriter<T> | Promise<SinkWriter<T>>;
}

/** What the runtime offers sinks beyond the context: the channel back to the client for `collect`. */
export interface SinkServices {
  /** Sends a batch of records of this subtask to the JobManager for the submitting client. */
  collect(records: readonly unknown[]): Promise<void>;
}
