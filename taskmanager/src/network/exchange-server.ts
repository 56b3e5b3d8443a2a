import { RiffleError, encodeValue, type BufferResponse, type BufferType, type ExchangeRequest, type ExchangeResponse, type Logger } from "@riffle/shared";
import type { CheckpointBarrier, NetworkEvent, SegmentBuffer } from "./buffer.js";
import type { PartitionManager } from "./partition-manager.js";
import { type DataStream, type OpenStream, keepSpare } from "./port-stream.js";
import type { ResultSubpartition, SubpartitionReader } from "./result-partition.js";

/**
 * Data buffers one message carries at most (4 segments, 128 KiB by default): what is queued is sent
 * together, within the credit, instead of one message per buffer. A message costs about the same to
 * pass between threads or through gRPC whatever its size (decisions 0006 and 0018), so this
 * divides that cost by up to four when the producer is ahead of the consumer.
 */
export const MAX_BUFFERS_PER_MESSAGE = 4;

/**
 * The sending end of credit-based flow control: one view per subpartition requested by a channel
 * outside this slot. It sends a buffer only while it holds credit from the receiver, and attaches the
 * subpartition's backlog so the receiver can lend floating buffers where data waits.
 *
 * A data buffer leaves as a copy of its segment's bytes in a transferable ArrayBuffer of one segment's
 * size (one the receiver handed back with its credit, else a new one), and the segment returns to the
 * pool at once. Segments flushed early by the buffer timeout
 * and queued behind it travel along in the same buffer, up to one segment size: a flush per record
 * then does not cost a credit round trip per record.
 */
export class RemoteSubpartitionView implements SubpartitionReader {
  private credit: number;
  private sequence = 0;
  private done = false;
  /** ArrayBuffers of sent buffers the receiver handed back, to fill again (see keepSpare). */
  private readonly spare: ArrayBuffer[] = [];
  buffersSent = 0;
  /** ArrayBuffers the views of this thread allocated for buffers, the others being reused (for tests). */
  static arrayBuffersAllocated = 0;

  constructor(
    private readonly sub: ResultSubpartition,
    private readonly stream: DataStream<ExchangeResponse>,
    initialCredit: number,
    private readonly segmentSize: number,
  ) {
    this.credit = initialCredit;
  }

  start(): void {
    this.sub.setReader(this);
  }

  addCredit(n: number, spare?: ArrayBuffer[]): void {
    keepSpare(this.spare, spare, this.segmentSize);
    this.credit += n;
    this.trySend();
  }

  notifyDataAvailable(): void {
    this.trySend();
  }

  notifyReleased(error: RiffleError): void {
    if (this.done) return;
    this.done = true;
    this.stream.send({ error: { code: error.code, message: error.message } });
    this.stream.end();
  }

  private trySend(): void {
    while (!this.done && this.credit > 0) {
      const buffer = this.sub.poll();
      if (buffer === undefined) return;
      this.credit--;
      this.buffersSent++;
      if (buffer.type === "DATA") {
        const data = this.takeData(buffer);
        const transfer = [data.buffer as ArrayBuffer];
        // Data buffers already queued behind it go in the same message while credit lasts: each
        // still spends a credit (a segment on the receiving side), but the message is relayed once.
        let more: Uint8Array[] | undefined;
        while (this.credit > 0 && transfer.length < MAX_BUFFERS_PER_MESSAGE && this.sub.peek()?.type === "DATA") {
          const next = this.sub.poll() as SegmentBuffer;
          this.credit--;
          this.buffersSent++;
          const d = this.takeData(next);
          (more ??= []).push(d);
          transfer.push(d.buffer as ArrayBuffer);
        }
        this.stream.send({ buffer: this.message("DATA", data, more) }, transfer);
        continue;
      }
      this.stream.send({ buffer: this.message(buffer.type, encodeEvent(buffer)) });
      if (buffer.type === "END_OF_PARTITION") {
        this.done = true;
        this.sub.removeReader(this);
        this.stream.end();
        return;
      }
    }
  }

  /**
   * The bytes of `first` and of the small data buffers right behind it, copied into one ArrayBuffer of
   * a segment's size (the receiver may hand it back for the next buffer); the segments go back.
   */
  private takeData(first: SegmentBuffer): Uint8Array {
    let buffer = this.spare.pop();
    if (buffer === undefined) {
      buffer = new ArrayBuffer(this.segmentSize);
      RemoteSubpartitionView.arrayBuffersAllocated++;
    }
    const out = new Uint8Array(buffer);
    out.set(first.segment.subarray(0, first.length), 0);
    let total = first.length;
    this.sub.recycle(first.segment);
    for (let next = this.sub.peek(); next?.type === "DATA" && total + next.length <= this.segmentSize; next = this.sub.peek()) {
      this.sub.poll();
      out.set(next.segment.subarray(0, next.length), total);
      total += next.length;
      this.sub.recycle(next.segment);
    }
    return out.subarray(0, total);
  }

  private message(type: BufferType, data: Uint8Array, more?: Uint8Array[]): BufferResponse {
    const sequence = this.sequence;
    this.sequence += 1 + (more?.length ?? 0);
    // The backlog is read after merging: the buffers taken along are no longer behind this one.
    if (more === undefined) return { sequence, backlog: this.sub.backlog, type, data };
    return { sequence, backlog: this.sub.backlog, type, data, moreData: more };
  }

  /**
   * The consumer's stream ended or failed. Before the end of partition that means its task failed or
   * was cancelled (a consumer never asks for a subpartition again: the next attempt of the job reads
   * new partitions), so the rest will never be read: the subpartition is released and its segments
   * return to the pool. This matters when the producer has finished and nothing else of the job in
   * its slot fails or is cancelled to release the job's partitions (SlotRuntime.onTaskState).
   */
  close(reason: string): void {
    if (this.done) return;
    this.done = true;
    this.sub.removeReader(this);
    this.sub.release(new RiffleError("CONNECTION_LOST", `the consumer of subpartition ${this.sub.index} stopped reading before its end: ${reason}`));
  }
}

/** An in-band event as it goes on the wire (see exchange.proto for each type's data). */
function encodeEvent(event: NetworkEvent): Uint8Array {
  switch (event.type) {
    case "CHECKPOINT_BARRIER":
      return encodeBarrier(event);
    case "WATERMARK":
      return encodeValue({ timestamp: event.timestamp });
    case "WATERMARK_STATUS":
      return encodeValue({ idle: event.idle });
    case "END_OF_PARTITION":
      return EMPTY;
  }
}

const EMPTY = new Uint8Array(0);

function encodeBarrier(b: CheckpointBarrier): Uint8Array {
  return encodeValue({ checkpointId: b.checkpointId, timestamp: b.timestamp, targetDir: b.targetDir, isSavepoint: b.isSavepoint });
}

/**
 * Serves one data-exchange stream (from another slot's worker through a port, or from a slot of
 * another TaskManager over gRPC): the first message requests a subpartition, the rest add credit.
 */
export function serveExchange(
  open: OpenStream<ExchangeResponse, ExchangeRequest>,
  partitions: PartitionManager,
  requestTimeoutMs: number,
  segmentSize: number,
  log: Logger,
): void {
  let view: RemoteSubpartitionView | undefined;
  let pendingCredit = 0;
  let closed = false;
  const stream: DataStream<ExchangeResponse> = open({
    message: (msg, spare) => {
      if (msg.partitionRequest) {
        const req = msg.partitionRequest;
        partitions.waitFor(req.partitionId, requestTimeoutMs).then(
          (partition) => {
            if (closed) return;
            try {
              view = new RemoteSubpartitionView(partition.subpartition(req.subpartition), stream, req.initialCredit + pendingCredit, segmentSize);
              view.start();
            } catch (err) {
              const e = err instanceof RiffleError ? err : new RiffleError("INTERNAL", String(err));
              stream.send({ error: { code: e.code, message: e.message } });
              stream.end();
            }
          },
          (err: RiffleError) => {
            log.warn({ partitionId: req.partitionId, consumer: req.consumer }, err.message);
            if (closed) return;
            stream.send({ error: { code: err.code, message: err.message } });
            stream.end();
          },
        );
      } else if (msg.addCredit) {
        if (view) view.addCredit(msg.addCredit.credit, spare);
        else pendingCredit += msg.addCredit.credit;
      }
    },
    end: () => {
      closed = true;
      view?.close("its stream ended");
    },
    error: (_code, message) => {
      closed = true;
      view?.close(message);
    },
  });
}
