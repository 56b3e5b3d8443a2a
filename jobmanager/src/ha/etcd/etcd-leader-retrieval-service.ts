import { parseFencingToken, type Clock, type Logger } from "@riffle/shared";
import type { IKeyValue } from "etcd3";
import type { LeaderInformation } from "../leader-election.js";
import type { LeaderRetrievalListener, LeaderRetrievalService } from "../leader-retrieval.js";
import type { EtcdConnection } from "./etcd-connection.js";
import { LEADER_INFO_KEY } from "./keys.js";
import { backoffMs, pause } from "./waits.js";

/**
 * Follows `leader/info`: reads it, then watches it from the revision read, so no change between the
 * two is missed. The key is attached to the leader's lease, so it disappears with the leader. While
 * etcd is out of reach the last known leader stands (the watch replays what it missed once it
 * reconnects); a failed read is reported and retried with backoff.
 */
export class EtcdLeaderRetrievalService implements LeaderRetrievalService {
  private listener: LeaderRetrievalListener | undefined;
  private loop: Promise<void> | undefined;
  private readonly closing = new AbortController();
  /** What the listener was last told, as JSON; null before the first notification. */
  private last: string | null = null;

  constructor(
    private readonly conn: EtcdConnection,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  start(listener: LeaderRetrievalListener): void {
    if (this.loop || this.closing.signal.aborted) return;
    this.listener = listener;
    this.loop = this.run();
  }

  async close(): Promise<void> {
    this.closing.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    const signal = this.closing.signal;
    while (!signal.aborted) {
      try {
        const res = await this.conn.call("read the leader information", (options) => this.conn.ns.get(LEADER_INFO_KEY).options(options).exec());
        failures = 0;
        this.update(res.kvs[0]);
        await this.follow(BigInt(res.header.revision) + 1n, signal);
      } catch (err) {
        if (signal.aborted) break;
        failures++;
        if (failures === 1 || failures % 10 === 0) this.listener?.handleError(this.conn.failure("follow the leader", err));
        await pause(this.clock, backoffMs(failures), signal);
      }
    }
  }

  /** Watches the key from `from` on; resolves when closed, rejects when the watch fails. */
  private async follow(from: bigint, signal: AbortSignal): Promise<void> {
    const watcher = this.conn.ns.watch().key(LEADER_INFO_KEY).startRevision(String(from)).watcher();
    let onAbort: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        watcher.on("put", (kv) => this.update(kv));
        watcher.on("delete", () => this.update(undefined));
        watcher.on("error", reject);
        onAbort = () => resolve();
        if (signal.aborted) resolve();
        else signal.addEventListener("abort", onAbort, { once: true });
      });
    } finally {
      if (onAbort) signal.removeEventListener("abort", onAbort);
      watcher.cancel().catch(() => {});
    }
  }

  private update(kv: IKeyValue | undefined): void {
    const info = kv ? this.parse(kv.value.toString()) : undefined;
    const json = JSON.stringify(info ?? null);
    if (json === this.last) return;
    this.last = json;
    this.listener?.notifyLeaderAddress(info);
  }

  private parse(text: string): LeaderInformation | undefined {
    try {
      const raw = JSON.parse(text) as Record<string, unknown>;
      const { leaderId, token, rpcAddress, restAddress } = raw;
      if (typeof leaderId !== "string" || typeof token !== "string" || typeof rpcAddress !== "string" || typeof restAddress !== "string") {
        throw new Error("missing fields");
      }
      return { leaderId, token: parseFencingToken(token), rpcAddress, restAddress };
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, "ignoring unreadable leader information in etcd");
      return undefined;
    }
  }
}
