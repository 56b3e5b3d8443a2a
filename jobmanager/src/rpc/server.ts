import type * as grpc from "@grpc/grpc-js";
import { rpc, type Logger } from "@riffle/shared";
import type { Dispatcher } from "../dispatcher/index.js";
import type { TaskManagerRegistry } from "../registry/index.js";
import type { BundleStore } from "../store/index.js";
import { clientService } from "./client-service.js";
import { jobManagerService } from "./jobmanager-service.js";

export interface RpcServerOptions {
  host: string;
  port: number;
  /** The leader part of the moment for TaskManagers (from the grant on); throws NOT_LEADER otherwise. */
  leader(): { dispatcher: Dispatcher; registry: TaskManagerRegistry };
  /** The dispatcher for clients, once this JobManager serves as leader; throws NOT_LEADER otherwise. */
  dispatcher(): Dispatcher;
  bundles(): BundleStore;
  logger: Logger;
}

/** Starts the gRPC server with ClientService and JobManagerService; resolves with the bound port. */
export async function startRpcServer(options: RpcServerOptions): Promise<{ server: grpc.Server; port: number }> {
  const server = rpc.createServer();
  rpc.addService(server, "ClientService", clientService(options.dispatcher, options.logger));
  rpc.addService(server, "JobManagerService", jobManagerService(options.leader, options.bundles));
  try {
    const port = await rpc.bindServer(server, options.host, options.port);
    return { server, port };
  } catch (err) {
    server.forceShutdown();
    throw err;
  }
}
