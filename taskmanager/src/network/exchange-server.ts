import type * as grpc from "@grpc/grpc-js";
import {
  RiffleError,
  encodeBatch,
  encodeTimestampedData,
  encodeValue,
  type BufferResponse,
  type BufferType,
  type Logger,
  type ExchangeRequest,
  type ExchangeResponse,
} from "@riffle/shared";
import { type CheckpointBarrier, type DataBuffer, type NetworkBuffer, untimed } from "./buffer.js";
import type { PartitionManager } from "./partition-manager.js";
import type { EncodingListener, ResultSubpartition, SubpartitionReader } from "./result-partition.js";

/**
 * The sending end of credit-based flow control: one view per requested subpartition. It sends a
 * buffer only while it holds credit from the receiver, and attaches the subpartition's backlog so the
 * receiver can lend floating buffers where data waits.
 */
export class RemoteSubpartitionView implements SubpartitionReader {
  private credit: number;
  private sequence = 0;
  private writeBlocked = false;
  private done = false;
  buffersSent = 0;

  constructor(
    private readonly sub: ResultSubpartition,
    private readonly call: grpc.ServerDuplexStream<ExchangeRequest, ExchangeResponse>,
    initialCredit: number,
    private readonly encoding: EncodingListener,
  ) {
    this.credit = initialCredit;
    call.on("drain", () => {
      this.writeBlocked = false;
      this.trySend();
    });
  }

  start(): void {
    this.sub.setReader(this);
  }

  addCredit(n: number): void {
    this.credit += n;
    this.trySend();
  }

  notifyDataAvailable(): void {
    this.trySend();
  }

  notifyReleased(error: RiffleError): void {
    if (this.done) return;
    this.done = true;
    this.call.write({ error: { code: error.code, message: error.message } });
    this.call.end();
  }

  private trySend(): void {
    while (!this.done && this.credit > 0 && !this.writeBlocked) {
      const buffer = this.sub.poll();
      if (buffer === undefined) return;
      this.credit--;
      this.buffersSent++;
      const ok = this.call.write({ buffer: buffer.type === "DATA" ? this.encode(buffer) : this.encodeEvent(buffer) });
      if (buffer.type === "END_OF_PARTITION") {
        this.done = true;
        this.sub.removeReader(this);
        this.call.end();
        return;
      }
      if (!ok) this.writeBlocked = true;
    }
  }

  /**
   * Encodes a buffer for the wire. Small buffers (flushed early by the buffer timeout) queued behind it
   * travel with it, up to about one buffer size of records: a flush per record then does not cost a
   * credit round trip per record. Their timestamps merge along, aligned with the records (NaN for the
   * records of a batch that had none); events are never merged, so they keep their place.
   */
  private encode(buffer: DataBuffer): BufferResponse {
    if (buffer.data) {
      const { data, timestamps } = buffer;
      return timestamps ? this.message("TIMESTAMPED_DATA", encodeTimestampedData(data, timestamps)) : this.message("DATA", data);
    }
    let records = buffer.records;
    let timestamps = buffer.timestamps;
    const limit = this.encoding.recordsPerBuffer;
    let next = this.sub.peek();
    if (next?.type === "DATA" && next.records && records.length + next.records.length <= limit) {
      records = records.slice();
      if (timestamps) timestamps = timestamps.slice();
      while (next?.type === "DATA" && next.records && records.length + next.records.length <= limit) {
        this.sub.poll();
        if (next.timestamps || timestamps) {
          timestamps ??= untimed(records.length);
          const ts = next.timestamps;
          if (ts) for (let i = 0; i < ts.length; i++) timestamps.push(ts[i]!);
          else for (let i = 0; i < next.records.length; i++) timestamps.push(Number.NaN);
        }
        for (const r of next.records) records.push(r);
        next = this.sub.peek();
      }
    }
    const data = encodeBatch(records);
    this.encoding.onEncoded(data.length + (timestamps ? 8 * timestamps.length : 0), records.length);
    // The backlog is read after merging: the buffers taken along are no longer behind this one.
    return timestamps ? this.message("TIMESTAMPED_DATA", encodeTimestampedData(data, timestamps)) : this.message("DATA", data);
  }

  /** An in-band event as it goes on the wire (see exchange.proto for each type's data). */
  private encodeEvent(event: Exclude<NetworkBuffer, DataBuffer>): BufferResponse {
    switch (event.type) {
      case "CHECKPOINT_BARRIER":
        return this.message(event.type, encodeBarrier(event));
      case "WATERMARK":
        return this.message(event.type, encodeValue({ timestamp: event.timestamp }));
      case "WATERMARK_STATUS":
        return this.message(event.type, encodeValue({ idle: event.idle }));
      case "END_OF_PARTITION":
        return this.message(event.type, EMPTY);
    }
  }

  private message(type: BufferType, data: Buffer): BufferResponse {
    return { sequence: this.sequence++, backlog: this.sub.backlog, type, data };
  }

  close(): void {
    this.done = true;
    this.sub.removeReader(this);
  }
}

const EMPTY = Buffer.alloc(0);

function encodeBarrier(b: CheckpointBarrier): Buffer {
  return encodeValue({ checkpointId: b.checkpointId, timestamp: b.timestamp, targetDir: b.targetDir, isSavepoint: b.isSavepoint });
}

/** Serves DataExchange.Exchange: the first message requests a subpartition, the rest add credit. */
export function exchangeHandler(partitions: PartitionManager, requestTimeoutMs: number, log: Logger) {
  return (call: grpc.ServerDuplexStream<ExchangeRequest, ExchangeResponse>): void => {
    let view: RemoteSubpartitionView | undefined;
    let pendingCredit = 0;
    let closed = false;
    const close = () => {
      closed = true;
      view?.close();
    };
    call.on("error", close);
    call.on("cancelled", close);
    call.on("end", () => {
      close();
      call.end();
    });
    call.on("data", (msg: ExchangeRequest) => {
      if (msg.partitionRequest) {
        const req = msg.partitionRequest;
        partitions.waitFor(req.partitionId, requestTimeoutMs).then(
          (partition) => {
            if (closed) return;
            try {
              view = new RemoteSubpartitionView(partition.subpartition(req.subpartition), call, req.initialCredit + pendingCredit, partition.encoding);
              view.start();
            } catch (err) {
              const e = err instanceof RiffleError ? err : new RiffleError("INTERNAL", String(err));
              call.write({ error: { code: e.code, message: e.message } });
              call.end();
            }
          },
          (err: RiffleError) => {
            log.warn({ partitionId: req.partitionId, consumer: req.consumer }, err.message);
            if (closed) return;
            call.write({ error: { code: err.code, message: err.message } });
            call.end();
          },
        );
      } else if (msg.addCredit) {
        if (view) view.addCredit(msg.addCredit.credit);
        else pendingCredit += msg.addCredit.credit;
      }
    });
  };
}
