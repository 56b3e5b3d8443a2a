import type * as grpc from "@grpc/grpc-js";
import { rpc, type ExchangeRequest, type ExchangeResponse } from "@riffle/shared";

type ExchangeClient = grpc.Client & {
  Exchange(): grpc.ClientDuplexStream<ExchangeRequest, ExchangeResponse>;
};

/**
 * One gRPC client (one HTTP/2 connection) per remote TaskManager, shared by every channel of every
 * slot reading from it: each channel is a stream of its own, so flow control stays per channel.
 */
export class ConnectionManager {
  private readonly clients = new Map<string, ExchangeClient>();

  openStream(address: string): grpc.ClientDuplexStream<ExchangeRequest, ExchangeResponse> {
    let client = this.clients.get(address);
    if (!client) {
      client = rpc.createClient<ExchangeClient>("DataExchange", address);
      this.clients.set(address, client);
    }
    return client.Exchange();
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
