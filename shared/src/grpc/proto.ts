import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

/** The proto/ folder at the repository root: the only contract between processes. */
export const PROTO_ROOT = fileURLToPath(new URL("../../../proto", import.meta.url));

const FILES = ["riffle/v1/client.proto", "riffle/v1/jobmanager.proto", "riffle/v1/taskmanager.proto", "riffle/v1/exchange.proto"];

let loaded: grpc.GrpcObject | undefined;

function riffleV1(): Record<string, grpc.ServiceClientConstructor> {
  if (!loaded) {
    const def = protoLoader.loadSync(FILES, {
      includeDirs: [PROTO_ROOT],
      keepCase: false,
      longs: Number,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    loaded = grpc.loadPackageDefinition(def);
  }
  return (loaded.riffle as grpc.GrpcObject).v1 as unknown as Record<string, grpc.ServiceClientConstructor>;
}

export type ServiceName = "ClientService" | "JobManagerService" | "TaskExecutorService" | "DataExchange" | "PartitionLocation";

export function serviceConstructor(name: ServiceName): grpc.ServiceClientConstructor {
  const ctor = riffleV1()[name];
  if (!ctor) throw new Error(`service ${name} is missing from proto/riffle/v1`);
  return ctor;
}

export function serviceDefinition(name: ServiceName): grpc.ServiceDefinition {
  return serviceConstructor(name).service;
}
