import type * as grpc from "@grpc/grpc-js";
import { RiffleError, decodeTimestampedData, decodeValue, type BufferResponse, type ExchangeRequest, type ExchangeResponse } from "@riffle/shared";
import { type CheckpointBarrier, END_OF_PARTITION, type NetworkBuffer } from "./buffer.js";
import type { ChannelOwner, InputChannel } from "./input-channel.js";

/** The gate-side pool of floating buffers, lent to whichever channel has a backlog. */
export interface FloatingBuffers {
  /** Lends one floating buffer to the channel, or queues the channel to get one later. */
  request(channel: RemoteInputChannel): boolean;
  /** Takes a floating buffer back (it goes to a waiting channel, else to the network pool). */
  giveBack(): void;
}

interface Received {
  buffer: NetworkBuffer;
  floating: boolean;
}

/**
 * The receiving end of credit-based flow control (FLINK-7282).
 *
 * Every buffer the sender may send is backed by a free buffer here: `initialCredit` exclusive buffers,
 * plus floating buffers borrowed from the gate when the sender reports a backlog. A free buffer is a
 * credit; the sender spends one per buffer and learns of new ones through AddCredit. So
 * received-and-unread data never exceeds exclusive + borrowed buffers, and a channel without credit
 * holds only its own stream.
 */
export class RemoteInputChannel implements InputChannel {
  private readonly queue: Received[] = [];
  private freeExclusive: number;
  private freeFloating = 0;
  private unannounced = 0;
  private backlog = 0;
  private call: grpc.ClientDuplexStream<ExchangeRequest, ExchangeResponse> | undefined;
  private closed = false;
  private ended = false;
  private nextSequence = 0;
  /** Counters for tests and metrics. */
  buffersReceived = 0;
  bytesReceived = 0;
  creditsAnnounced = 0;

  constructor(
    readonly index: number,
    readonly description: string,
    private readonly owner: ChannelOwner,
    private readonly floating: FloatingBuffers,
    private readonly initialCredit: number,
    private readonly onExclusiveReleased: (n: number) => void,
  ) {
    this.freeExclusive = initialCredit;
  }

  /** Opens the stream and requests the subpartition with the exclusive buffers as initial credit. */
  open(call: grpc.ClientDuplexStream<ExchangeRequest, ExchangeResponse>, partitionId: string, subpartition: number, consumer: string): void {
    this.call = call;
    call.on("data", (msg: ExchangeResponse) => this.onMessage(msg));
    call.on("error", (err: grpc.ServiceError) => {
      if (this.closed || this.ended) return;
      this.fail(new RiffleError("CONNECTION_LOST", `lost the connection while reading ${this.description}: ${err.details || err.message}`, { cause: err }));
    });
    call.on("end", () => {
      if (!this.closed && !this.ended) this.fail(new RiffleError("CONNECTION_LOST", `${this.description} closed before its end of partition`));
    });
    call.write({ partitionRequest: { partitionId, subpartition, initialCredit: this.initialCredit, consumer } });
  }

  private onMessage(msg: ExchangeResponse): void {
    if (this.closed) return;
    if (msg.error) {
      this.fail(
        new RiffleError(msg.error.code === "PARTITION_NOT_FOUND" ? "PARTITION_NOT_FOUND" : "CONNECTION_LOST", `${this.description}: ${msg.error.message}`),
      );
      return;
    }
    const b = msg.buffer;
    if (!b) return;
    this.onBuffer(b);
  }

  /** @internal exposed for protocol tests */
  onBuffer(b: BufferResponse): void {
    if (b.sequence !== this.nextSequence) {
      this.fail(new RiffleError("CONNECTION_LOST", `${this.description}: buffer ${b.sequence} arrived, expected ${this.nextSequence}`));
      return;
    }
    this.nextSequence++;
    let buffer: NetworkBuffer;
    try {
      buffer = decodeBuffer(b);
    } catch (err) {
      this.fail(new RiffleError("INTERNAL", `${this.description}: undecodable ${b.type} buffer: ${(err as Error).message}`, { cause: err }));
      return;
    }
    let floating: boolean;
    if (this.freeExclusive > 0) {
      this.freeExclusive--;
      floating = false;
    } else if (this.freeFloating > 0) {
      this.freeFloating--;
      floating = true;
    } else {
      this.fail(new RiffleError("INTERNAL", `${this.description}: the sender sent a buffer without credit`));
      return;
    }
    this.buffersReceived++;
    if (buffer.type === "DATA") this.bytesReceived += b.data.length;
    else if (buffer.type === "END_OF_PARTITION") this.ended = true;
    const wasEmpty = this.queue.length === 0;
    this.queue.push({ buffer, floating });
    this.backlog = b.backlog;
    this.requestFloatingForBacklog();
    this.announceCredit();
    if (wasEmpty) this.owner.notifyChannelNonEmpty(this);
  }

  /** Flink's rule: keep backlog + initialCredit buffers free, borrowing floating ones as needed. */
  private requestFloatingForBacklog(): void {
    while (this.wantsFloating() && this.floating.request(this)) {
      this.freeFloating++;
      this.unannounced++;
    }
  }

  wantsFloating(): boolean {
    return !this.closed && !this.ended && this.freeExclusive + this.freeFloating < this.backlog + this.initialCredit;
  }

  /** The gate lends a floating buffer this channel waited for. */
  assignFloating(): void {
    this.freeFloating++;
    this.unannounced++;
    this.announceCredit();
  }

  private announceCredit(): void {
    if (this.unannounced === 0 || !this.call || this.closed || this.ended) return;
    const credit = this.unannounced;
    this.unannounced = 0;
    this.creditsAnnounced += credit;
    this.call.write({ addCredit: { credit } });
  }

  poll(): NetworkBuffer | undefined {
    const r = this.queue.shift();
    if (!r) return undefined;
    if (!r.floating) {
      this.freeExclusive++;
      this.unannounced++;
    } else if (this.freeExclusive + this.freeFloating >= this.backlog + this.initialCredit || this.ended) {
      this.floating.giveBack();
    } else {
      this.freeFloating++;
      this.unannounced++;
    }
    this.announceCredit();
    return r.buffer;
  }

  hasData(): boolean {
    return this.queue.length > 0;
  }

  queuedBuffers(): number {
    return this.queue.length;
  }

  /** Credit the sender may still use (free buffers already announced). */
  get outstandingCredit(): number {
    return this.freeExclusive + this.freeFloating - this.unannounced;
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.owner.notifyChannelFailed(this, err);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Return every buffer this channel holds: free floating ones, and queued ones by kind.
    let exclusive = this.freeExclusive;
    let floating = this.freeFloating;
    for (const r of this.queue) {
      if (r.floating) floating++;
      else exclusive++;
    }
    this.queue.length = 0;
    this.freeExclusive = 0;
    this.freeFloating = 0;
    for (let i = 0; i < floating; i++) this.floating.giveBack();
    this.onExclusiveReleased(exclusive);
    if (this.call) {
      const call = this.call;
      this.call = undefined;
      if (this.ended) call.end();
      else call.cancel();
    }
  }
}

/**
 * A received buffer as the task reads it: records stay encoded until the task decodes them (and
 * counts their bytes); events are decoded here. See exchange.proto for each type's data.
 */
function decodeBuffer(b: BufferResponse): NetworkBuffer {
  switch (b.type) {
    case "DATA":
      return { type: "DATA", data: b.data, timestamps: undefined };
    case "TIMESTAMPED_DATA": {
      const { data, timestamps } = decodeTimestampedData(b.data);
      return { type: "DATA", data, timestamps };
    }
    case "CHECKPOINT_BARRIER":
      return { type: "CHECKPOINT_BARRIER", ...decodeValue<Omit<CheckpointBarrier, "type">>(b.data) };
    case "WATERMARK":
      return { type: "WATERMARK", timestamp: decodeValue<{ timestamp: number }>(b.data).timestamp };
    case "WATERMARK_STATUS":
      return { type: "WATERMARK_STATUS", idle: decodeValue<{ idle: boolean }>(b.data).idle };
    case "END_OF_PARTITION":
      return END_OF_PARTITION;
    default:
      throw new RiffleError("INTERNAL", `unknown buffer type ${String((b as { type: unknown }).type)}`);
  }
}
