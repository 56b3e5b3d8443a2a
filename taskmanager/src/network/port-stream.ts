import type { MessagePort } from "node:worker_threads";

/**
 * What travels on a data-exchange MessagePort: the messages of exchange.proto, then an orderly end or
 * an error. The receiver of `end` or `error` closes the port (messages posted before a close are
 * still delivered); a port that closes without either means the other side is gone.
 */
export type PortEnvelope<T> = { type: "message"; message: T } | { type: "end" } | { type: "error"; code: string; message: string };

export interface StreamHandlers<In> {
  message(message: In): void;
  /** The other side ended the stream in order. */
  end(): void;
  /** The other side failed the stream, or went away (`code` CONNECTION_LOST). */
  error(code: string, message: string): void;
}

/**
 * One end of a data-exchange stream over a MessagePort: a channel reading a partition (requests out,
 * buffers in) or the view serving one (buffers out, requests in). The other end is another slot's
 * worker, or the main thread bridging to gRPC.
 */
export class PortStream<Out, In> {
  private done = false;

  constructor(
    private readonly port: MessagePort,
    handlers: StreamHandlers<In>,
  ) {
    port.on("message", (envelope: PortEnvelope<In>) => {
      if (this.done) return;
      switch (envelope.type) {
        case "message":
          handlers.message(envelope.message);
          return;
        case "end":
          this.finish();
          handlers.end();
          return;
        case "error":
          this.finish();
          handlers.error(envelope.code, envelope.message);
          return;
      }
    });
    port.on("close", () => {
      if (this.done) return;
      this.done = true;
      handlers.error("CONNECTION_LOST", "the other side of the stream went away");
    });
  }

  /** Sends a message; `transfer` moves buffers instead of copying them (they become unusable here). */
  send(message: Out, transfer?: ArrayBuffer[]): void {
    if (!this.done) this.port.postMessage({ type: "message", message } satisfies PortEnvelope<Out>, transfer);
  }

  /** Ends the stream in order. */
  end(): void {
    if (this.done) return;
    this.port.postMessage({ type: "end" } satisfies PortEnvelope<Out>);
    this.finish();
  }

  /** Fails the stream (a consumer that gives up cancels this way too). */
  fail(code: string, message: string): void {
    if (this.done) return;
    this.port.postMessage({ type: "error", code, message } satisfies PortEnvelope<Out>);
    this.finish();
  }

  private finish(): void {
    this.done = true;
    this.port.close();
  }
}
