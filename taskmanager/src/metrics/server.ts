import { createServer, type Server } from "node:http";
import { RiffleError } from "@riffle/shared";

/** Serves GET /metrics (Prometheus text format) with what `text` produces at each scrape. */
export function startMetricsServer(text: () => Promise<string>, contentType: string, host: string, port: number): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.method === "GET" && (req.url === "/metrics" || req.url?.startsWith("/metrics?"))) {
      text().then(
        (body) => {
          res.writeHead(200, { "content-type": contentType });
          res.end(body);
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
