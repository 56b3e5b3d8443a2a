import { createServer, type Server } from "node:http";
import { RiffleError, type Registry } from "@riffle/shared";

/** Serves GET /metrics (Prometheus text format) from the registry. */
export function startMetricsServer(registry: Registry, host: string, port: number): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.method === "GET" && (req.url === "/metrics" || req.url?.startsWith("/metrics?"))) {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": registry.contentType });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500, { "content-type": "application/json" });
          res.end(JSON.stringify({ code: "INTERNAL", message: err.message }));
        },
      );
      return;
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ code: "NOT_FOUND", message: `no route ${req.method} ${req.url}; try GET /metrics` }));
  });
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      reject(
        err.code === "EADDRINUSE"
          ? new RiffleError(
              "PORT_IN_USE",
              `cannot serve metrics on ${host}:${port}: the port is already in use. Stop the other process or set taskmanager.metrics.port.`,
            )
          : err,
      );
    });
    server.listen(port, host, () => {
      const addr = server.address();
      resolve({ server, port: typeof addr === "object" && addr ? addr.port : port });
    });
  });
}
