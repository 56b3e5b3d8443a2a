import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { RiffleError, type Cancel, type Clock, type Logger } from "@riffle/shared";
import {
  EXPIRES_AT,
  type FromLeaseKeeper,
  type LeaseKeeperInit,
  MAIN_BEAT,
  OLDEST_UNANSWERED,
  type ToLeaseKeeper,
  monotonicMs,
} from "./lease-keeper-protocol.js";

function workerFile(): URL {
  const beside = new URL("./lease-keeper-worker.js", import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  return new URL("../../../dist/ha/etcd/lease-keeper-worker.js", import.meta.url);
}

/** How often the main thread beats: the worker stops renewing once it has not for MAIN_STALL_TTLS TTLs. */
const BEAT_EVERY_MS = 250;
/** Longest wait for the worker to start (it loads the etcd client). */
const START_TIMEOUT_MS = 30_000;

/** What the holder of a kept lease hears from the worker. */
export interface KeptLeaseListener {
  /** etcd answered that the lease no longer exists. */
  expired(): void;
  failed(message: string, first: boolean): void;
  recovered(): void;
}

/** A lease the keeper renews: its renewals read from memory shared with the worker, at any time. */
export class KeptLease {
  private readonly view: BigInt64Array;

  constructor(
    readonly cells: SharedArrayBuffer,
    private readonly onDrop: () => void,
  ) {
    this.view = new BigInt64Array(cells);
  }

  /** When etcd can let the lease expire, at the earliest (monotonicMs). */
  expiresAt(): number {
    return Number(Atomics.load(this.view, EXPIRES_AT));
  }

  /** When the oldest keep-alive still unanswered was sent (monotonicMs), if any. */
  oldestUnanswered(): number | undefined {
    const at = Number(Atomics.load(this.view, OLDEST_UNANSWERED));
    return at === 0 ? undefined : at;
  }

  /** Stops renewing it. */
  drop(): void {
    this.onDrop();
  }
}

/**
 * Renews this process's etcd leases in a worker thread (Flink's ZooKeeper and Kubernetes clients
 * renew on threads of their own too): a JobManager's main thread can be busy for a second on a
 * loaded machine (the leader's event loop was measured blocked up to 1.07 s at load 20), which a
 * 2 s lease cannot absorb when its keep-alives are sent from that thread. The leader's deadline is
 * still judged on the main thread (EtcdLease), from what the worker wrote; a main thread that does
 * not beat for MAIN_STALL_TTLS TTLs stops the renewals, so a JobManager stuck for good is replaced.
 *
 * ```ts
 * const keeper = await LeaseKeeper.start({ endpoints, clusterId, callTimeoutMs }, clock, logger);
 * const kept = keeper.keep(leaseId, ttlMs, grantSentAt, listener);
 * kept.expiresAt();   // renewed by the worker
 * kept.drop();
 * ```
 */
export class LeaseKeeper {
  private worker: Worker;
  private readonly beat = new BigInt64Array(new SharedArrayBuffer(8));
  private readonly listeners = new Map<string, KeptLeaseListener>();
  private cancelBeat: Cancel | undefined;
  private closed = false;

  private constructor(
    private readonly init: Omit<LeaseKeeperInit, "beat">,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.beatNow();
    this.worker = this.spawn();
  }

  /** Starts the worker; resolves once it runs, rejects (INTERNAL) when it cannot start. */
  static async start(init: Omit<LeaseKeeperInit, "beat">, clock: Clock, logger: Logger): Promise<LeaseKeeper> {
    const keeper = new LeaseKeeper(init, clock, logger);
    const worker = keeper.worker;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`it did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
        const onMessage = (msg: FromLeaseKeeper) => {
          if (msg.type !== "ready") return;
          clearTimeout(timer);
          worker.off("message", onMessage);
          resolve();
        };
        worker.on("message", onMessage);
        worker.once("error", (err) => reject(err));
        worker.once("exit", (code) => reject(new Error(`it exited with code ${code}`)));
      });
    } catch (err) {
      await keeper.close();
      throw new RiffleError("INTERNAL", `the etcd lease keeper thread could not start: ${(err as Error).message}`, { cause: err });
    }
    return keeper;
  }

  /** Renews lease `id` (decimal) of `ttlMs`, last renewed by a request sent at `renewedAt` (monotonicMs), until dropped. */
  keep(id: string, ttlMs: number, renewedAt: number, listener: KeptLeaseListener): KeptLease {
    const cells = new SharedArrayBuffer(16);
    new BigInt64Array(cells)[EXPIRES_AT] = BigInt(Math.floor(renewedAt + ttlMs));
    this.listeners.set(id, listener);
    this.post({ type: "keep", id, ttlMs, renewedAt, cells });
    return new KeptLease(cells, () => {
      if (!this.listeners.delete(id)) return;
      this.post({ type: "drop", id });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancelBeat?.();
    const worker = this.worker;
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    this.post({ type: "close" });
    const timer = setTimeout(() => void worker.terminate(), 2_000);
    await exited;
    clearTimeout(timer);
  }

  private post(msg: ToLeaseKeeper): void {
    if (this.closed && msg.type !== "close") return;
    this.worker.postMessage(msg);
  }

  private beatNow(): void {
    Atomics.store(this.beat, MAIN_BEAT, BigInt(Math.floor(monotonicMs())));
    this.cancelBeat = this.clock.schedule(() => this.beatNow(), BEAT_EVERY_MS);
  }

  private spawn(): Worker {
    const worker = new Worker(workerFile(), { workerData: { ...this.init, beat: this.beat.buffer as SharedArrayBuffer } satisfies LeaseKeeperInit });
    let ready = false;
    worker.on("message", (msg: FromLeaseKeeper) => {
      if (msg.type === "ready") {
        ready = true;
        return;
      }
      const listener = this.listeners.get(msg.id);
      if (!listener) return;
      if (msg.type === "expired") listener.expired();
      else if (msg.type === "failed") listener.failed(msg.message, msg.first);
      else listener.recovered();
    });
    worker.on("error", (err) => this.logger.error({ err: err.message }, "the etcd lease keeper thread failed"));
    worker.on("exit", (code) => {
      // One that never started is reported by start(); starting it again would fail the same way.
      if (this.closed || !ready) return;
      // Its leases are no longer renewed: their holders step down when their deadlines pass. Later
      // leases go to a new thread.
      this.logger.error({ code }, "the etcd lease keeper thread exited; starting another");
      this.listeners.clear();
      this.worker = this.spawn();
    });
    return worker;
  }
}
