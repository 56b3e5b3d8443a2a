import type { MessagePort } from "node:worker_threads";
import type * as grpc from "@grpc/grpc-js";
import type { ExchangeRequest, ExchangeResponse, Logger } from "@riffle/shared";
import type { PortEnvelope } from "../network/port-stream.js";

/**
 * The main thread's part of the data plane: it joins a slot worker's MessagePort to a gRPC stream,
 * message for message, in both directions. Flow control needs nothing here: the producer sends only
 * against the consumer's credit, so what passes through is bounded by the credits in flight.
 *
 *   consumer worker ⇄ port ⇄ [bridgeOutbound] ⇄ gRPC ⇄ [bridgeInbound] ⇄ port ⇄ producer worker
 */

/** A buffer's bytes leave gRPC's receive buffers as a transferable ArrayBuffer of their own. */
function responseToPort(port: MessagePort, msg: ExchangeResponse): void {
  const b = msg.buffer;
  if (b && b.data.length > 0) {
    const data = b.data;
    const own = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
    port.postMessage({ type: "message", message: { buffer: { ...b, data: new Uint8Array(own) } } } satisfies PortEnvelope<ExchangeResponse>, [own]);
    return;
  }
  port.postMessage({ type: "message", message: msg } satisfies PortEnvelope<ExchangeResponse>);
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
  port.on("message", (envelope: PortEnvelope<ExchangeRequest>) => {
    if (done) return;
    if (envelope.type === "message") {
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
    if (!done) responseToPort(port, msg);
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
      port.postMessage({ type: "message", message: msg } satisfies PortEnvelope<ExchangeRequest>);
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
          if (envelope.type === "message") call.write(envelope.message);
          else {
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
