import type { Socket } from "node:net";
import type { Logger } from "@riffle/shared";
import { encodeUnsupportedApiVersions } from "./apis/index.js";
import { type Api, ApiKey, type BrokerState } from "./protocol/api.js";
import { KafkaError, errorName } from "./protocol/errors.js";
import { MalformedRequestError, Reader, Writer } from "./protocol/wire.js";

/** Kafka's socket.request.max.bytes. */
const MAX_REQUEST_BYTES = 100 * 1024 * 1024;
/** Requests read ahead of the one being handled before the socket is paused. */
const MAX_QUEUED = 64;
/** Pipelined requests (see ApiSpec.pipelined) waiting for their response at most. */
const MAX_IN_FLIGHT = 32;

/**
 * One client connection: size-prefixed request frames in, responses out. Requests of a connection
 * are handled in order, one at a time as Kafka does (it mutes a channel while a request is in
 * flight), so a client's writes apply in the order it sent them and responses leave in request order.
 * One exception: a Produce request has appended its batches before it waits for fsync, so the next
 * request starts meanwhile and the produce requests in flight on a connection share one fsync.
 *
 * A request that cannot be decoded, of an unknown API, or of a version this broker does not serve
 * closes the connection with a logged reason, as Kafka does; the broker goes on serving the others.
 * The exception is ApiVersions, whose unknown versions get UNSUPPORTED_VERSION (see api-versions.ts).
 */
export class Connection {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly frames: Buffer[] = [];
  private processing = false;
  /** Responses not yet written, oldest first; `written` chains their writes in that order. */
  private readonly inFlight: Array<Promise<Buffer[] | null>> = [];
  private written: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly abort = new AbortController();
  private readonly clientHost: string;

  constructor(
    private readonly socket: Socket,
    private readonly broker: BrokerState,
    private readonly apis: ReadonlyMap<number, Api>,
    private readonly logger: Logger,
  ) {
    this.clientHost = socket.remoteAddress ?? "unknown";
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (err) => this.logger.debug({ err: err.message, client: this.clientHost }, "connection error"));
    socket.on("close", () => {
      this.closed = true;
      this.abort.abort();
    });
  }

  /** Closes the connection (broker shutdown). */
  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered >= 4) {
      if (this.chunks[0]!.length < 4) this.merge();
      const size = this.chunks[0]!.readInt32BE(0);
      if (size < 0 || size > MAX_REQUEST_BYTES) {
        this.close(`request size ${size} is outside 0..${MAX_REQUEST_BYTES}`);
        return;
      }
      if (this.buffered < 4 + size) break;
      if (this.chunks[0]!.length < 4 + size) this.merge();
      const first = this.chunks[0]!;
      this.frames.push(first.subarray(4, 4 + size));
      if (first.length === 4 + size) this.chunks.shift();
      else this.chunks[0] = first.subarray(4 + size);
      this.buffered -= 4 + size;
    }
    if (this.frames.length >= MAX_QUEUED) this.socket.pause();
    void this.processFrames();
  }

  private merge(): void {
    this.chunks = [Buffer.concat(this.chunks, this.buffered)];
  }

  private async processFrames(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.frames.length > 0 && !this.closed) {
        const frame = this.frames.shift()!;
        const pipelined = frame.length >= 2 && this.apis.get(frame.readInt16BE(0))?.pipelined === true;
        // handle() runs synchronously up to its first await: a pipelined request's effects are applied when it returns.
        const response = this.handle(frame);
        this.inFlight.push(response);
        this.written = this.written.then(() => this.writeResponse(response));
        if (!pipelined) await response;
        while (this.inFlight.length >= MAX_IN_FLIGHT) await this.written;
        if (this.frames.length < MAX_QUEUED / 2 && this.socket.isPaused()) this.socket.resume();
      }
    } finally {
      this.processing = false;
    }
  }

  /** Writes responses in request order, whatever order their requests finish in. */
  private async writeResponse(response: Promise<Buffer[] | null>): Promise<void> {
    const bytes = await response;
    this.inFlight.shift();
    if (!bytes || this.closed) return;
    this.socket.cork();
    for (const chunk of bytes) this.socket.write(chunk);
    this.socket.uncork();
  }

  /** Handles one request; returns the response's bytes (size prefix included), or null for none. */
  private async handle(frame: Buffer): Promise<Buffer[] | null> {
    let apiKey = -1;
    let version = -1;
    try {
      const r = new Reader(frame);
      apiKey = r.int16();
      version = r.int16();
      const correlationId = r.int32();
      const api = this.apis.get(apiKey);
      if (!api) throw new MalformedRequestError(`unknown API key ${apiKey}`);
      if (version < api.minVersion || version > api.maxVersion) {
        if (apiKey === ApiKey.ApiVersions) {
          this.logger.info({ version, client: this.clientHost }, "ApiVersions of an unknown version: answering UNSUPPORTED_VERSION with the versions served");
          return this.frame(correlationId, false, (w) =>
            encodeUnsupportedApiVersions(
              w,
              this.broker.apis.map((a) => ({ key: a.key, minVersion: a.minVersion, maxVersion: a.maxVersion })),
            ),
          );
        }
        throw new MalformedRequestError(`${api.name} v${version} is not served (versions ${api.minVersion} to ${api.maxVersion} are)`);
      }
      const flexible = version >= api.flexibleFrom;
      const clientId = r.classicNullableString() ?? "";
      if (flexible) {
        r.flexible = true;
        r.taggedFields();
      }
      const encode = await api.process(r, { broker: this.broker, version, clientId, clientHost: this.clientHost, signal: this.abort.signal });
      if (!encode) return null;
      // ApiVersions keeps response header v0 even in its flexible version, so old clients can read it.
      return this.frame(correlationId, flexible && apiKey !== ApiKey.ApiVersions, encode, flexible);
    } catch (err) {
      if (err instanceof MalformedRequestError) this.close(`malformed request (API ${apiKey} v${version}): ${err.message}`);
      else if (err instanceof KafkaError) this.close(`request (API ${apiKey} v${version}) failed with ${errorName(err.code)}: ${err.message}`);
      else {
        this.logger.error({ err, apiKey, version, client: this.clientHost }, "request handling failed: closing the connection");
        this.close("internal error");
      }
      return null;
    }
  }

  private frame(correlationId: number, headerTags: boolean, encode: (w: Writer) => void, flexibleBody = false): Buffer[] {
    const header = new Writer(true, 16).int32(correlationId);
    if (headerTags) header.taggedFields();
    const body = new Writer(flexibleBody, 256);
    encode(body);
    const size = Buffer.allocUnsafe(4);
    size.writeInt32BE(header.length + body.length);
    return [size, ...header.finish(), ...body.finish()];
  }

  private close(reason: string): void {
    if (this.closed) return;
    this.logger.warn({ client: this.clientHost, reason }, "closing a client connection");
    this.closed = true;
    this.frames.length = 0;
    this.socket.destroy();
  }
}
