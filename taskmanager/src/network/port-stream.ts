import type { MessagePort } from "node:worker_threads";

/**
 * What travels on a data-exchange MessagePort: the messages of exchange.proto, then an orderly end or
 * an error. The receiver of `end` or `error` closes the port (messages posted before a close are
 * still delivered); a port that closes without either means the other side is gone.
 */
export type PortEnvelope<T> = { type: "message"; message: T; spare?: ArrayBuffer[] } | { type: "end" } | { type: "error"; code: string; message: string };

/**
 * How many returned ArrayBuffers one end of a stream keeps for reuse; more than a channel has buffers
 * in flight with the default credits (2 exclusive, up to 8 floating), beyond which they go to the GC.
 */
export const MAX_SPARE_BUFFERS = 16;

/**
 * Adds returned ArrayBuffers of at least `minBytes` to `spare`, up to MAX_SPARE_BUFFERS.
 *
 * Why buffers go back: a buffer's bytes cross threads in a transferred ArrayBuffer, and one allocated
 * per buffer (then collected) cost about twice as much per postMessage as one reused (a
 * micro-benchmark of 32 KiB buffers between a worker and the main thread: ~30 against ~15 µs). So the
 * receiver of a buffer hands its ArrayBuffer back with the next credit it sends the other way, where
 * the sender fills it again. Only ArrayBuffers that arrived transferred through a port travel back:
 * they belong to nobody else.
 */
export function keepSpare(spare: ArrayBuffer[], returned: readonly ArrayBuffer[] | undefined, minBytes: number): void {
  if (returned === undefined) return;
  for (const buffer of returned) {
    if (spare.length >= MAX_SPARE_BUFFERS) return;
    if (buffer.byteLength >= minBytes) spare.push(buffer);
  }
}

/**
 * One end of a data-exchange stream, whatever carries it: a MessagePort between two slots of one
 * TaskManager (PortStream), or gRPC between slots of two TaskManagers (grpc-stream.ts).
 */
export interface DataStream<Out> {
  /**
   * Whether the bytes of messages received on this stream arrived in ArrayBuffers of their own,
   * transferred to this thread (a port): only those may be handed back to the sender with `spare`.
   * Over gRPC they are views into the receive buffers of gRPC, shared with other messages.
   */
  readonly handsBackReceived: boolean;
  /**
   * Sends a message. `transfer`: ArrayBuffers of the message's buffers, which the sender gives up
   * (moved through a port; on gRPC, returned for reuse once serialized). `spare`: ArrayBuffers of
   * buffers the other end sent, handed back with the message where that end can reuse them.
   */
  send(message: Out, transfer?: ArrayBuffer[], spare?: ArrayBuffer[]): void;
  /** Ends the stream in order. */
  end(): void;
  /** Fails the stream (a consumer that gives up cancels this way too). */
  fail(code: string, message: string): void;
}

/** Opens a stream whose incoming messages go to `handlers`. */
export type OpenStream<Out, In> = (handlers: StreamHandlers<In>) => DataStream<Out>;

/** A stream over `port`. */
export function overPort<Out, In>(port: MessagePort): OpenStream<Out, In> {
  return (handlers) => new PortStream<Out, In>(port, handlers);
}

export interface StreamHandlers<In> {
  /** A message; `spare` are ArrayBuffers of buffers this end sent, handed back for reuse. */
  message(message: In, spare: ArrayBuffer[] | undefined): void;
  /** The other side ended the stream in order. */
  end(): void;
  /** The other side failed the stream, or went away (`code` CONNECTION_LOST). */
  error(code: string, message: string): void;
}

/**
 * One end of a data-exchange stream over a MessagePort: a channel reading a partition (requests out,
 * buffers in) or the view serving one (buffers out, requests in). The other end is another slot's
 * worker of the same TaskManager.
 */
export class PortStream<Out, In> implements DataStream<Out> {
  readonly handsBackReceived = true;
  private done = false;

  constructor(
    private readonly port: MessagePort,
    handlers: StreamHandlers<In>,
  ) {
    port.on("message", (envelope: PortEnvelope<In>) => {
      if (this.done) return;
      switch (envelope.type) {
        case "message":
          handlers.message(envelope.message, envelope.spare);
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

  /**
   * Sends a message; `transfer` moves buffers instead of copying them (they become unusable here).
   * `spare`: ArrayBuffers of buffers the other end sent, handed back with the message (moved too).
   */
  send(message: Out, transfer?: ArrayBuffer[], spare?: ArrayBuffer[]): void {
    if (this.done) return;
    if (spare === undefined || spare.length === 0) this.port.postMessage({ type: "message", message } satisfies PortEnvelope<Out>, transfer);
    else this.port.postMessage({ type: "message", message, spare } satisfies PortEnvelope<Out>, transfer ? [...transfer, ...spare] : spare);
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
