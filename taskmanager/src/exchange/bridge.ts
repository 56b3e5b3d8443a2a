import type { MessagePort } from "node:worker_threads";
import type * as grpc from "@grpc/grpc-js";
import type { BufferResponse, ExchangeRequest, ExchangeResponse, Logger } from "@riffle/shared";
import { MAX_SPARE_BUFFERS, type PortEnvelope, keepSpare } from "../network/port-stream.js";

/**
 * The main thread's part of the data plane: it joins a slot worker's MessagePort to a gRPC stream,
 * message for message, in both directions. Flow control needs nothing here: the producer sends only
 * against the consumer's credit, so what passes through is bounded by the credits in flight.
 *
 *   consumer worker ⇄ port ⇄ [bridgeOutbound] ⇄ gRPC ⇄ [bridgeInbound] ⇄ port ⇄ producer worker
 */

/**
 * ArrayBuffers that buffers' bytes cross threads in, on one bridged stream: those the worker handed
 * back (see keepSpare), and the largest buffer seen so far, which new ones are sized to so that they
 * can be reused (the producer sends at most one segment per buffer).
 */
interface Spares {
  buffers: ArrayBuffer[];
  size: number;
}

/**
 * A buffer's bytes leave gRPC's receive buffers as a copy in a transferable ArrayBuffer: one the
 * consumer's worker handed back, else a new one.
 */
function responseToPort(port: MessagePort, msg: ExchangeResponse, spares: Spares): void {
  const b = msg.buffer;
  if (b && b.data.length > 0) {
    const transfer: ArrayBuffer[] = [];
    const data = copyOut(b.data, spares, transfer);
    const more = b.moreData;
    const buffer: BufferResponse =
      more === undefined || more.length === 0
        ? { sequence: b.sequence, backlog: b.backlog, type: b.type, data }
        : { sequence: b.sequence, backlog: b.backlog, type: b.type, data, moreData: more.map((d) => copyOut(d, spares, transfer)) };
    port.postMessage({ type: "message", message: { buffer } } satisfies PortEnvelope<ExchangeResponse>, transfer);
    return;
  }
  port.postMessage({ type: "message", message: msg } satisfies PortEnvelope<ExchangeResponse>);
}

/** A copy of `data` in a spare (or new) ArrayBuffer, added to `transfer`. */
function copyOut(data: Uint8Array, spares: Spares, transfer: ArrayBuffer[]): Uint8Array {
  const length = data.byteLength;
  if (length > spares.size) spares.size = length;
  let own = spares.buffers.pop();
  if (own === undefined || own.byteLength < length) own = new ArrayBuffer(spares.size);
  const copy = new Uint8Array(own, 0, length);
  copy.set(data);
  transfer.push(own);
  return copy;
}

function closeWith(port: MessagePort, envelope: PortEnvelope<never>): void {
  port.postMessage(envelope);
  port.close();
}

/** A channel of a slot reads a partition on another TaskManager: its port ⇄ a gRPC client stream. */
export function bridgeOutbound(port: MessagePort, call: grpc.ClientDuplexStream<ExchangeRequest, ExchangeResponse>): void {
  let done = false;
  const finish = () => {
    done = true;
  };
  const spares: Spares = { buffers: [], size: 0 };
  port.on("message", (envelope: PortEnvelope<ExchangeRequest>) => {
    if (done) return;
    if (envelope.type === "message") {
      keepSpare(spares.buffers, envelope.spare, spares.size);
      call.write(envelope.message);
    } else if (envelope.type === "end") {
      finish();
      call.end();
    } else {
      finish();
      call.cancel();
    }
  });
  // The consumer's worker went away (terminated, crashed): its stream goes too.
  port.on("close", () => {
    if (done) return;
    finish();
    call.cancel();
  });
  call.on("data", (msg: ExchangeResponse) => {
    if (!done) responseToPort(port, msg, spares);
  });
  call.on("end", () => {
    if (done) return;
    finish();
    closeWith(port, { type: "end" });
  });
  call.on("error", (err: grpc.ServiceError) => {
    if (done) return;
    finish();
    closeWith(port, { type: "error", code: "CONNECTION_LOST", message: err.details || err.message });
  });
}

/**
 * A stream arriving over gRPC for a partition of this TaskManager: `locate` finds the worker that
 * produces the partition named by the first message (waiting for its deployment if need be) and gives
 * it a port; the stream is then joined to that port.
 */
export function bridgeInbound(
  call: grpc.ServerDuplexStream<ExchangeRequest, ExchangeResponse>,
  locate: (partitionId: string) => Promise<MessagePort>,
  log: Logger,
): void {
  let port: MessagePort | undefined;
  /** Messages (credit) that arrive while the producer is being located. */
  const early: ExchangeRequest[] = [];
  let done = false;
  /**
   * ArrayBuffers of the producer's buffers, once gRPC has serialized them: handed back to the
   * producer's worker with the next credit, to be filled again (see keepSpare).
   */
  let spare: ArrayBuffer[] = [];
  const fail = (message: string) => {
    if (done) return;
    done = true;
    if (port) closeWith(port, { type: "error", code: "CONNECTION_LOST", message });
  };
  call.on("error", (err) => fail(`the consumer's connection broke: ${err.message}`));
  call.on("cancelled", () => fail("the consumer cancelled the stream"));
  call.on("end", () => {
    if (done) return;
    done = true;
    if (port) closeWith(port, { type: "end" });
    call.end();
  });
  call.on("data", (msg: ExchangeRequest) => {
    if (done) return;
    if (port) {
      if (spare.length === 0 || !msg.addCredit) {
        port.postMessage({ type: "message", message: msg } satisfies PortEnvelope<ExchangeRequest>);
        return;
      }
      const returned = spare;
      spare = [];
      port.postMessage({ type: "message", message: msg, spare: returned } satisfies PortEnvelope<ExchangeRequest>, returned);
      return;
    }
    early.push(msg);
    if (early.length > 1 || !msg.partitionRequest) return;
    const req = msg.partitionRequest;
    locate(req.partitionId).then(
      (p) => {
        if (done) {
          closeWith(p, { type: "end" });
          return;
        }
        port = p;
        for (const m of early.splice(0)) p.postMessage({ type: "message", message: m } satisfies PortEnvelope<ExchangeRequest>);
        p.on("message", (envelope: PortEnvelope<ExchangeResponse>) => {
          if (envelope.type === "message") {
            const buffer = envelope.message.buffer;
            const data = buffer?.data;
            if (data === undefined || data.byteLength === 0) call.write(envelope.message);
            // The ArrayBuffers came transferred from the worker; once gRPC has serialized the message
            // (the write's callback), nothing refers to them any more.
            else
              call.write(envelope.message, () => {
                if (done) return;
                if (spare.length < MAX_SPARE_BUFFERS) spare.push(data.buffer as ArrayBuffer);
                const more = buffer!.moreData;
                if (more !== undefined) for (const d of more) if (spare.length < MAX_SPARE_BUFFERS) spare.push(d.buffer as ArrayBuffer);
              });
          } else {
            done = true;
            call.end();
          }
        });
        p.on("close", () => {
          if (done) return;
          // The producer's worker went away: the consumer learns it from the stream's end without
          // its end of partition.
          done = true;
          call.end();
        });
      },
      (err: Error & { code?: string }) => {
        log.warn({ partitionId: req.partitionId, consumer: req.consumer }, err.message);
        if (done) return;
        done = true;
        call.write({ error: { code: err.code ?? "PARTITION_NOT_FOUND", message: err.message } });
        call.end();
      },
    );
  });
}
