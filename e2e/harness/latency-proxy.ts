import { type Server, type Socket, createConnection, createServer } from "node:net";

/**
 * A TCP proxy in front of a real server that delays what passes through it, each direction by half
 * of `roundTripMs`, keeping the order of the bytes: a slow server (etcd on a loaded machine with a
 * slow disk) without pausing it. The delay can be changed while connections are open; it applies to
 * bytes that arrive from then on, never overtaking bytes already queued.
 *
 * ```ts
 * const proxy = await LatencyProxy.start(2379);
 * proxy.roundTripMs = 800;    // every answer comes 800 ms after its request
 * await proxy.close();
 * ```
 */
export class LatencyProxy {
  roundTripMs = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number, targetHost = "127.0.0.1"): Promise<LatencyProxy> {
    let proxy: LatencyProxy | undefined;
    const server = createServer((client) => proxy?.connect(client, targetHost, targetPort));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("the latency proxy has no TCP port");
    proxy = new LatencyProxy(server, address.port);
    return proxy;
  }

  /** `http://127.0.0.1:<port>`, as an etcd endpoint. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private connect(client: Socket, host: string, port: number): void {
    const upstream = createConnection({ host, port });
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
      // Either side going away takes the other with it, as a dropped connection would.
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    this.pipe(client, upstream);
    this.pipe(upstream, client);
  }

  /** Copies `from` to `to`, each chunk half a round trip after it arrived, in the order they arrived. */
  private pipe(from: Socket, to: Socket): void {
    const queue: Array<{ due: number; chunk: Buffer }> = [];
    let timer: NodeJS.Timeout | undefined;
    const drain = () => {
      timer = undefined;
      while (queue.length > 0 && queue[0]!.due <= Date.now()) {
        const { chunk } = queue.shift()!;
        if (!to.destroyed) to.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(drain, queue[0]!.due - Date.now());
    };
    from.on("data", (chunk: Buffer) => {
      queue.push({ due: Math.max(Date.now() + this.roundTripMs / 2, queue.at(-1)?.due ?? 0), chunk });
      if (timer === undefined) timer = setTimeout(drain, queue[0]!.due - Date.now());
    });
    from.on("close", () => clearTimeout(timer));
  }
}
