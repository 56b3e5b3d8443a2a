import { createServer } from "node:net";

/** Parses `host:port`; the port must be given. */
export function parseHostPort(address: string): { host: string; port: number } {
  const idx = address.lastIndexOf(":");
  const port = Number(address.slice(idx + 1));
  if (idx <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`invalid address "${address}": expected host:port`);
  }
  return { host: address.slice(0, idx), port };
}

/** A free TCP port on the loopback interface (for tools and tests that must name ports up front). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}
