import type * as grpc from "@grpc/grpc-js";
import { type ExchangeRequest, type ExchangeResponse, type LocateRequest, type LocateResponse, RiffleError, parseHostPort, rpc } from "@riffle/shared";
import { type DataStream, MAX_SPARE_BUFFERS, type OpenStream, type StreamHandlers } from "./port-stream.js";

/**
 * Data exchange between slots of two TaskManagers, from worker thread to worker thread (decision
 * 0018): each slot's worker serves its partitions on a data port of its own, and a channel of a slot
 * opens its stream straight to the producing slot's port. Neither TaskManager's main thread relays a
 * buffer; it only answers, on its RPC address, which port serves a partition (PartitionLocation).
 */

type ExchangeClient = grpc.Client & { Exchange(): grpc.ClientDuplexStream<ExchangeRequest, ExchangeResponse> };

/** How much longer than the producer's partition-request timeout a Locate call may take. */
const LOCATE_MARGIN_MS = 10_000;

/**
 * The producer's end of a stream that arrived on this slot's data server. A buffer's ArrayBuffer is
 * handed back to the sender (the subpartition view) with the next credit once gRPC has serialized the
 * message (the write's callback), as a consumer's worker hands it back through a port: the view
 * fills it again instead of allocating one.
 */
class GrpcServerStream implements DataStream<ExchangeResponse> {
  readonly handsBackReceived = false;
  private done = false;
  private spare: ArrayBuffer[] = [];

  constructor(
    private readonly call: grpc.ServerDuplexStream<ExchangeRequest, ExchangeResponse>,
    handlers: StreamHandlers<ExchangeRequest>,
  ) {
    call.on("data", (msg: ExchangeRequest) => {
      if (this.done) return;
      if (this.spare.length === 0 || !msg.addCredit) {
        handlers.message(msg, undefined);
        return;
      }
      const returned = this.spare;
      this.spare = [];
      handlers.message(msg, returned);
    });
    call.on("end", () => {
      if (this.done) return;
      this.done = true;
      handlers.end();
      call.end();
    });
    const lost = (message: string) => {
      if (this.done) return;
      this.done = true;
      handlers.error("CONNECTION_LOST", message);
    };
    call.on("error", (err: Error) => lost(`the consumer's connection broke: ${err.message}`));
    call.on("cancelled", () => lost("the consumer cancelled the stream"));
  }

  send(message: ExchangeResponse, transfer?: ArrayBuffer[]): void {
    if (this.done) return;
    if (transfer === undefined || transfer.length === 0) {
      this.call.write(message);
      return;
    }
    this.call.write(message, () => {
      if (this.done) return;
      for (const b of transfer) if (this.spare.length < MAX_SPARE_BUFFERS) this.spare.push(b);
    });
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    this.call.end();
  }

  fail(code: string, message: string): void {
    if (this.done) return;
    this.call.write({ error: { code, message } });
    this.done = true;
    this.call.end();
  }
}

/** Serves a stream that arrived on this slot's data server (see serveExchange). */
export function overGrpcCall(call: grpc.ServerDuplexStream<ExchangeRequest, ExchangeResponse>): OpenStream<ExchangeResponse, ExchangeRequest> {
  return (handlers) => new GrpcServerStream(call, handlers);
}

/**
 * The gRPC clients of one slot's channels to other TaskManagers: one per address (one HTTP/2
 * connection), shared by every channel of the slot reading from it; each channel is a stream of its
 * own, so flow control stays per channel. No keepalive pings (rpc.DATA_CHANNEL_OPTIONS): the slot's
 * thread may be busy in user code for longer than a ping may wait.
 */
export class DataConnections {
  private readonly clients = new Map<string, grpc.Client>();

  /** `partitionRequestTimeoutMs`: how long a producer's TaskManager waits for the partition's deployment. */
  constructor(private readonly partitionRequestTimeoutMs: number) {}

  /**
   * A stream to partition `partitionId` of the TaskManager at `address` (its RPC address): asks it
   * which data port serves the partition (waiting for the producer's deployment there), then opens the
   * stream on that port. Messages sent meanwhile wait.
   */
  open(address: string, partitionId: string): OpenStream<ExchangeRequest, ExchangeResponse> {
    return (handlers) => new GrpcClientStream(this, address, partitionId, handlers);
  }

  /** @internal */
  locate(address: string, partitionId: string): Promise<string> {
    const locator = this.client("PartitionLocation", address);
    return rpc
      .unary<LocateRequest, LocateResponse>(locator, "Locate", { partitionId }, this.partitionRequestTimeoutMs + LOCATE_MARGIN_MS)
      .then(({ port }) => `${parseHostPort(address).host}:${port}`);
  }

  /** @internal */
  exchange(address: string): grpc.ClientDuplexStream<ExchangeRequest, ExchangeResponse> {
    return this.client<ExchangeClient>("DataExchange", address).Exchange();
  }

  private client<T extends grpc.Client>(service: "DataExchange" | "PartitionLocation", address: string): T {
    const key = `${service} ${address}`;
    let client = this.clients.get(key);
    if (!client) {
      client = rpc.createClient<grpc.Client>(service, address, rpc.DATA_CHANNEL_OPTIONS);
      this.clients.set(key, client);
    }
    return client as T;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

/** The consumer's end of a stream to a slot of another TaskManager. */
class GrpcClientStream implements DataStream<ExchangeRequest> {
  readonly handsBackReceived = false;
  private call: grpc.ClientDuplexStream<ExchangeRequest, ExchangeResponse> | undefined;
  /** Messages sent before the stream is open. */
  private readonly queued: ExchangeRequest[] = [];
  private done = false;

  constructor(connections: DataConnections, address: string, partitionId: string, handlers: StreamHandlers<ExchangeResponse>) {
    connections.locate(address, partitionId).then(
      (dataAddress) => {
        if (this.done) return;
        const call = connections.exchange(dataAddress);
        this.call = call;
        call.on("data", (msg: ExchangeResponse) => {
          if (!this.done) handlers.message(msg, undefined);
        });
        call.on("end", () => {
          if (this.done) return;
          this.done = true;
          handlers.end();
        });
        call.on("error", (err: grpc.ServiceError) => {
          if (this.done) return;
          this.done = true;
          handlers.error("CONNECTION_LOST", err.details || err.message);
        });
        for (const m of this.queued.splice(0)) call.write(m);
      },
      (err: unknown) => {
        if (this.done) return;
        this.done = true;
        const e = err instanceof RiffleError ? err : new RiffleError("CONNECTION_LOST", String(err));
        // As the producer's side says it on an open stream: the channel fails with the error's code.
        handlers.message({ error: { code: e.code, message: e.message } }, undefined);
      },
    );
  }

  send(message: ExchangeRequest): void {
    if (this.done) return;
    if (this.call) this.call.write(message);
    else this.queued.push(message);
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    this.call?.end();
  }

  fail(): void {
    if (this.done) return;
    this.done = true;
    this.call?.cancel();
  }
}
