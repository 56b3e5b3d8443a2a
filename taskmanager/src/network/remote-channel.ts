import { RiffleError, decodeValue, isErrorCode, type BufferResponse, type ExchangeRequest, type ExchangeResponse } from "@riffle/shared";
import { type CheckpointBarrier, END_OF_PARTITION, type InputItem, type NetworkEvent } from "./buffer.js";
import type { ChannelOwner, InputChannel } from "./input-channel.js";
import { type DataStream, MAX_SPARE_BUFFERS, type OpenStream } from "./port-stream.js";
import { type DecodedRecords, RecordDeserializer } from "./serialization.js";

/** The gate-side pool of floating buffers, lent to whichever channel has a backlog. */
export interface FloatingBuffers {
  /** Lends one floating buffer to the channel, or queues the channel to get one later. */
  request(channel: RemoteInputChannel): boolean;
  /** Takes a floating buffer back (it goes to a waiting channel, else to the network pool). */
  giveBack(): void;
}

/** Freed buffers announced together while the channel still has buffers to read (see poll). */
const CREDIT_BATCH = 2;

interface Received {
  message: BufferResponse;
  floating: boolean;
  /** Its data arrived in an ArrayBuffer transferred through the port: this channel's to hand back. */
  owned: boolean;
}

/**
 * The receiving end of credit-based flow control (FLINK-7282), for a producer outside this slot: in
 * another slot of this TaskManager (over a MessagePort), or on another TaskManager (over gRPC, straight
 * to the producing slot's data server).
 *
 * Every buffer the sender may send is backed by a segment permit here: `initialCredit` exclusive ones,
 * plus floating ones borrowed from the gate when the sender reports a backlog. A free permit is a
 * credit; the sender spends one per buffer (at most one segment of bytes) and learns of new ones
 * through AddCredit. So received-and-unread data never exceeds exclusive + borrowed segments, and a
 * channel without credit holds only its own stream.
 */
export class RemoteInputChannel implements InputChannel {
  private readonly queue: Received[] = [];
  private readonly deserializer: RecordDeserializer;
  private freeExclusive: number;
  private freeFloating = 0;
  private unannounced = 0;
  private backlog = 0;
  private stream: DataStream<ExchangeRequest> | undefined;
  private closed = false;
  private ended = false;
  private nextSequence = 0;
  /** ArrayBuffers of decoded buffers, handed back to the sender with the next credit (see keepSpare). */
  private spare: ArrayBuffer[] = [];
  /** Counters for tests and metrics. */
  buffersReceived = 0;
  /** Messages that brought buffers (one carries up to MAX_BUFFERS_PER_MESSAGE data buffers). */
  messagesReceived = 0;
  bytesReceived = 0;
  creditsAnnounced = 0;
  /** ArrayBuffers of received buffers handed back to the sender for reuse. */
  buffersHandedBack = 0;

  constructor(
    readonly index: number,
    readonly description: string,
    private readonly owner: ChannelOwner,
    private readonly floating: FloatingBuffers,
    private readonly initialCredit: number,
    private readonly onExclusiveReleased: (n: number) => void,
  ) {
    this.freeExclusive = initialCredit;
    this.deserializer = new RecordDeserializer(description);
  }

  /** Opens the stream and requests the subpartition with the exclusive buffers as initial credit. */
  open(openStream: OpenStream<ExchangeRequest, ExchangeResponse>, partitionId: string, subpartition: number, consumer: string): void {
    this.stream = openStream({
      message: (msg) => this.onMessage(msg),
      end: () => {
        if (!this.closed && !this.ended) this.fail(new RiffleError("CONNECTION_LOST", `${this.description} closed before its end of partition`));
      },
      error: (code, message) => {
        if (this.closed || this.ended) return;
        this.fail(new RiffleError(isErrorCode(code) ? code : "CONNECTION_LOST", `lost ${this.description}: ${message}`));
      },
    });
    this.stream.send({ partitionRequest: { partitionId, subpartition, initialCredit: this.initialCredit, consumer } });
  }

  private onMessage(msg: ExchangeResponse): void {
    if (this.closed) return;
    if (msg.error) {
      this.fail(
        new RiffleError(msg.error.code === "PARTITION_NOT_FOUND" ? "PARTITION_NOT_FOUND" : "CONNECTION_LOST", `${this.description}: ${msg.error.message}`),
      );
      return;
    }
    if (msg.buffer) this.onBuffer(msg.buffer, this.stream?.handsBackReceived === true);
  }

  /**
   * A message of one buffer, or of several data buffers (`moreData`), each on a credit of its own, in
   * sequence; the message's backlog is what stays queued behind its last buffer.
   * @internal exposed for protocol tests; `owned`: its data's ArrayBuffers came through the port.
   */
  onBuffer(b: BufferResponse, owned = false): void {
    this.messagesReceived++;
    const more = b.moreData;
    if (more === undefined || more.length === 0) {
      this.receive(b, owned);
      return;
    }
    if (b.type !== "DATA") {
      this.fail(new RiffleError("INTERNAL", `${this.description}: a ${b.type} buffer arrived with more data buffers`));
      return;
    }
    const n = more.length;
    if (!this.receive({ sequence: b.sequence, backlog: b.backlog + n, type: "DATA", data: b.data }, owned)) return;
    for (let i = 0; i < n; i++) {
      if (!this.receive({ sequence: b.sequence + 1 + i, backlog: b.backlog + n - 1 - i, type: "DATA", data: more[i]! }, owned)) return;
    }
  }

  /** One buffer; false when the channel failed on it. */
  private receive(b: BufferResponse, owned: boolean): boolean {
    if (this.closed) return false;
    if (b.sequence !== this.nextSequence) {
      this.fail(new RiffleError("CONNECTION_LOST", `${this.description}: buffer ${b.sequence} arrived, expected ${this.nextSequence}`));
      return false;
    }
    this.nextSequence++;
    let floating: boolean;
    if (this.freeExclusive > 0) {
      this.freeExclusive--;
      floating = false;
    } else if (this.freeFloating > 0) {
      this.freeFloating--;
      floating = true;
    } else {
      this.fail(new RiffleError("INTERNAL", `${this.description}: the sender sent a buffer without credit`));
      return false;
    }
    this.buffersReceived++;
    if (b.type === "DATA") this.bytesReceived += b.data.length;
    else if (b.type === "END_OF_PARTITION") this.ended = true;
    const wasEmpty = this.queue.length === 0;
    this.queue.push({ message: b, floating, owned });
    this.backlog = b.backlog;
    this.requestFloatingForBacklog();
    this.announceCredit();
    if (wasEmpty) this.owner.notifyChannelNonEmpty(this);
    return true;
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
    if (this.unannounced === 0 || !this.stream || this.closed || this.ended) return;
    const credit = this.unannounced;
    this.unannounced = 0;
    this.creditsAnnounced += credit;
    const spare = this.spare;
    if (spare.length > 0) {
      this.spare = [];
      this.buffersHandedBack += spare.length;
    }
    this.stream.send({ addCredit: { credit } }, undefined, spare);
  }

  /**
   * Takes the next buffer, decodes it and frees its permit (announced as credit). A buffer holding
   * only part of a record decodes to no records.
   */
  poll(): InputItem | undefined {
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
    // Credit first, as before: the sender can go on while this buffer is decoded. Its ArrayBuffer goes
    // back with the next credit (through a port). While more than one buffer is still queued here the
    // sender is not what this channel waits for, so freed buffers are announced two at a time: a
    // credit message (a thread hop between slots, a gRPC message between TaskManagers) costs about
    // as much as a buffer of data. With one buffer or none left, every credit goes out at once, so a channel that
    // is about to run dry never waits for a second freed buffer.
    if (this.unannounced >= CREDIT_BATCH || this.queue.length <= 1) this.announceCredit();
    const item = this.decode(r.message);
    // Decoded records hold no views into the bytes (the deserializer copies binary values out).
    if (r.owned && r.message.type === "DATA" && this.spare.length < MAX_SPARE_BUFFERS) this.spare.push(r.message.data.buffer as ArrayBuffer);
    return item;
  }

  private decode(b: BufferResponse): InputItem {
    if (b.type === "DATA") {
      const out: DecodedRecords = { records: [], timestamps: undefined };
      this.deserializer.decode(b.data, out);
      return { type: "DATA", records: out.records, timestamps: out.timestamps, bytes: b.data.length };
    }
    return decodeEvent(b);
  }

  hasData(): boolean {
    return this.queue.length > 0;
  }

  queuedBuffers(): number {
    return this.queue.length;
  }

  /** Buffers this channel may hold at most: its exclusive ones (floating ones are counted by the gate). */
  get capacity(): number {
    return this.initialCredit;
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
    // Return every permit this channel holds: free floating ones, and queued ones by kind.
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
    const stream = this.stream;
    this.stream = undefined;
    if (!stream) return;
    if (this.ended) stream.end();
    else stream.fail("TASK_CANCELED", `${this.description}: the consumer stopped reading`);
  }
}

/** An in-band event as it arrived (see exchange.proto for each type's data). */
export function decodeEvent(b: BufferResponse): NetworkEvent {
  switch (b.type) {
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
