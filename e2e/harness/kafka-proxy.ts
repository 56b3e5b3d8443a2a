import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";

/** Kafka's request API keys the tests look for in held requests. */
export const KafkaApiKey = { Produce: 0, Fetch: 1, AddPartitionsToTxn: 24, EndTxn: 26 } as const;

/**
 * A TCP proxy in front of a Kafka broker (start the broker with `--advertised-port <proxy port>`, so
 * clients come back through it after bootstrapping) that can cut one process off the broker without
 * closing anything: `hold(pid)` stops passing on the requests that process's connections send, whole
 * requests (Kafka frames them with a length), and keeps them; `release()` sends them on, in order,
 * as a network partition that heals would. Answers the broker sends still reach the process, and
 * other processes' connections go on as before. Linux only: a connection's process is found through
 * /proc.
 */
export class KafkaProxy {
  private readonly pipes = new Set<Pipe>();
  private heldPids: readonly number[] | undefined;
  private heldApis: readonly number[] | undefined;
  private targetPort = 0;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<KafkaProxy> {
    const server = createServer();
    const proxy = new KafkaProxy(server);
    server.on("connection", (client) => proxy.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** The broker's port (set once the broker runs, before clients connect). */
  target(port: number): void {
    this.targetPort = port;
  }

  /**
   * From now on, requests from process `pid` (or processes) are held (also on connections it opens later). With
   * `apiKeys`, a connection of that process is held from its first request of one of those APIs on
   * (what follows it on that connection waits behind it), and its other connections go on: e.g. a
   * sink's writes held while its job's source still reads.
   */
  hold(pid: number | readonly number[], apiKeys?: readonly number[]): void {
    this.heldPids = typeof pid === "number" ? [pid] : pid;
    this.heldApis = apiKeys;
    for (const pipe of this.pipes) pipe.owned = undefined;
  }

  /** API keys of the requests held so far, in the order they came. */
  heldRequests(): number[] {
    return [...this.pipes].flatMap((p) => p.held.map((frame) => frame.readInt16BE(4)));
  }

  /** Sends the held requests on, in order, and stops holding. */
  release(): void {
    this.heldPids = undefined;
    for (const pipe of this.pipes) pipe.flush();
  }

  async stop(): Promise<void> {
    for (const pipe of this.pipes) pipe.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Whether this request (a whole frame) of the pipe is to be held. */
  holds(pipe: Pipe, frame: Buffer): boolean {
    const pids = this.heldPids;
    if (pids === undefined) return false;
    if (this.heldApis && !this.heldApis.includes(frame.readInt16BE(4))) return false;
    pipe.owned ??= pids.some((pid) => socketOwnedBy(pipe.clientPort, this.port, pid));
    return pipe.owned;
  }

  private accept(client: Socket): void {
    const server = createConnection({ host: "127.0.0.1", port: this.targetPort });
    const pipe = new Pipe(this, client, server);
    this.pipes.add(pipe);
    const gone = () => {
      pipe.destroy();
      this.pipes.delete(pipe);
    };
    client.on("close", gone);
    server.on("close", gone);
    client.on("error", gone);
    server.on("error", gone);
  }
}

/** One client connection and its connection to the broker. */
class Pipe {
  /** Requests held, each a whole frame (length prefix included). */
  held: Buffer[] = [];
  /** Whether the client is the held process (undefined: not looked up since the last hold). */
  owned: boolean | undefined;
  readonly clientPort: number;
  private pending: Buffer = Buffer.alloc(0);

  constructor(
    private readonly proxy: KafkaProxy,
    private readonly client: Socket,
    private readonly server: Socket,
  ) {
    this.clientPort = client.remotePort!;
    client.on("data", (chunk: Buffer) => this.fromClient(chunk));
    server.on("data", (chunk: Buffer) => client.write(chunk));
  }

  private fromClient(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 4) {
      const size = this.pending.readInt32BE(0);
      if (this.pending.length < 4 + size) return;
      const frame = this.pending.subarray(0, 4 + size);
      this.pending = this.pending.subarray(4 + size);
      if (this.held.length > 0 || this.proxy.holds(this, frame)) this.held.push(frame);
      else this.server.write(frame);
    }
  }

  flush(): void {
    for (const frame of this.held.splice(0)) this.server.write(frame);
  }

  destroy(): void {
    this.client.destroy();
    this.server.destroy();
  }
}

/**
 * Whether process `pid` holds the loopback TCP socket from `localPort` to `remotePort`: its inode,
 * from /proc/net/tcp, among the process's open file descriptors.
 */
function socketOwnedBy(localPort: number, remotePort: number, pid: number): boolean {
  const hexPort = (p: number) => p.toString(16).toUpperCase().padStart(4, "0");
  let inode: string | undefined;
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    if (f[1]!.endsWith(`:${hexPort(localPort)}`) && f[2]!.endsWith(`:${hexPort(remotePort)}`)) inode = f[9];
  }
  if (!inode || inode === "0") return false;
  const link = `socket:[${inode}]`;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === link) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}
