import * as grpc from "@grpc/grpc-js";
import { RiffleError, isErrorCode, toRiffleError, type ErrorCode } from "../errors.js";
import { serviceConstructor, serviceDefinition, type ServiceName } from "./proto.js";

/**
 * gRPC's default 64 KiB HTTP/2 window halves shuffle throughput on these machines (REFERENCE.md):
 * every connection raises it to 16 MiB on both ends.
 */
export const FLOW_CONTROL_WINDOW = 16 * 1024 * 1024;
const MAX_MESSAGE = 256 * 1024 * 1024;

export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc-node.flow_control_window": FLOW_CONTROL_WINDOW,
  "grpc.max_receive_message_length": MAX_MESSAGE,
  "grpc.max_send_message_length": MAX_MESSAGE,
  "grpc.keepalive_time_ms": 10_000,
  "grpc.keepalive_timeout_ms": 5_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 2_000,
};

/**
 * The data plane's connections (decision 0018): as CHANNEL_OPTIONS, without HTTP/2 keepalive pings.
 * A slot's worker serves and reads its streams on its own thread, which user code may hold for many
 * seconds; a ping it cannot answer within the timeout would drop every stream of the connection.
 * A peer that dies is noticed by TCP (its kernel resets the connection) or else by the JobManager's
 * heartbeats, which fail the job and so cancel its streams; Flink's Netty data connections rely on
 * TCP the same way.
 */
export const DATA_CHANNEL_OPTIONS: grpc.ChannelOptions = Object.fromEntries(Object.entries(CHANNEL_OPTIONS).filter(([k]) => !k.startsWith("grpc.keepalive")));

const ERROR_CODE_KEY = "riffle-error-code";

export function createClient<T>(service: ServiceName, address: string, options: grpc.ChannelOptions = CHANNEL_OPTIONS): T & grpc.Client {
  const Ctor = serviceConstructor(service);
  return new Ctor(address, grpc.credentials.createInsecure(), options) as unknown as T & grpc.Client;
}

/** A server; `keepalive: false` for the data plane's (see DATA_CHANNEL_OPTIONS). */
export function createServer(options: { keepalive?: boolean } = {}): grpc.Server {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": MAX_MESSAGE,
    "grpc.max_send_message_length": MAX_MESSAGE,
    ...(options.keepalive === false
      ? {}
      : {
          "grpc.keepalive_permit_without_calls": 1,
          "grpc.keepalive_time_ms": 10_000,
          "grpc.keepalive_timeout_ms": 5_000,
        }),
  });
  return server;
}

export function addService(server: grpc.Server, service: ServiceName, impl: grpc.UntypedServiceImplementation): void {
  server.addService(serviceDefinition(service), impl);
}

/** Binds `host:port` (0 = any free port) and resolves with the bound port; PORT_IN_USE when taken. */
export function bindServer(server: grpc.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
      if (err) {
        const inUse = /EADDRINUSE|address already in use|No address added/i.test(err.message);
        reject(
          inUse
            ? new RiffleError("PORT_IN_USE", `cannot listen on ${host}:${port}: the port is already in use. Stop the other process or choose another port.`, {
                cause: err,
              })
            : new RiffleError("INTERNAL", `cannot listen on ${host}:${port}: ${err.message}`, { cause: err }),
        );
        return;
      }
      raiseServerWindow(server);
      resolve(bound);
    });
  });
}

/**
 * grpc-js has no server option for the HTTP/2 window, so it is raised on each new session of the
 * server's underlying http2 servers (the fields are internal; absent ones are skipped).
 */
function raiseServerWindow(server: grpc.Server): void {
  const internal = server as unknown as { http2Servers?: Map<{ on(ev: "session", cb: (s: import("node:http2").Http2Session) => void): void }, unknown> };
  for (const http2Server of internal.http2Servers?.keys() ?? []) {
    http2Server.on("session", (session) => {
      try {
        session.setLocalWindowSize(FLOW_CONTROL_WINDOW);
        session.settings({ initialWindowSize: FLOW_CONTROL_WINDOW });
      } catch {
        // A session that closed before settings could be sent needs no window.
      }
    });
  }
}

/** Converts an error to a gRPC status carrying the Riffle error code. */
export function toServiceError(err: unknown): Partial<grpc.StatusObject> {
  const e = toRiffleError(err);
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_CODE_KEY, e.code);
  const code =
    e.httpStatus === 404
      ? grpc.status.NOT_FOUND
      : e.httpStatus === 400
        ? grpc.status.INVALID_ARGUMENT
        : e.httpStatus === 409
          ? grpc.status.FAILED_PRECONDITION
          : e.httpStatus === 503
            ? grpc.status.UNAVAILABLE
            : grpc.status.INTERNAL;
  return { code, details: e.message, metadata };
}

/** Converts a gRPC client error back into a RiffleError with its code. */
export function fromServiceError(err: unknown, what: string): RiffleError {
  const se = err as grpc.ServiceError;
  const code = se?.metadata?.get?.(ERROR_CODE_KEY)?.[0];
  if (isErrorCode(code)) return new RiffleError(code, se.details || se.message, { cause: err });
  if (se?.code === grpc.status.UNAVAILABLE || se?.code === grpc.status.DEADLINE_EXCEEDED) {
    return new RiffleError("CONNECTION_LOST", `${what}: ${se.details || se.message}`, { cause: err });
  }
  return toRiffleError(err);
}

type UnaryMethod<Req, Res> = (req: Req, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Res) => void) => unknown;

/** Calls a unary method with a deadline and converts failures to RiffleError. */
export function unary<Req, Res>(client: grpc.Client, method: string, request: Req, timeoutMs = 10_000): Promise<Res> {
  const fn = (client as unknown as Record<string, UnaryMethod<Req, Res>>)[method];
  if (!fn) return Promise.reject(new RiffleError("INTERNAL", `no gRPC method ${method}`));
  return new Promise((resolve, reject) => {
    fn.call(client, request, { deadline: Date.now() + timeoutMs }, (err, res) => {
      if (err) reject(fromServiceError(err, method));
      else resolve(res as Res);
    });
  });
}

/** Wraps an async unary handler: resolves to the response or to a status with the error code. */
export function handleUnary<Req, Res>(fn: (req: Req) => Promise<Res> | Res): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => fn(call.request))
      .then(
        (res) => callback(null, res),
        (err) => callback(toServiceError(err)),
      );
  };
}

export function isErrorCodeOf(err: unknown, code: ErrorCode): boolean {
  return err instanceof RiffleError && err.code === code;
}
