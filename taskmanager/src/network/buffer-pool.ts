import { RiffleError } from "@riffle/shared";
import { Signal } from "./signal.js";

/**
 * The TaskManager's network memory: a fixed number of buffers (network memory / buffer size) shared
 * by every task. Producers need one to finish each outgoing buffer; receivers hold one for each
 * buffer in flight to them. When the pool is empty, producers stop: memory is bounded by construction.
 *
 * A buffer is a permit here; the bytes it stands for are the encoded batch that holds it.
 */
export class NetworkBufferPool {
  private available: number;
  private readonly freed = new Signal();

  constructor(
    readonly totalBuffers: number,
    readonly bufferSize: number,
  ) {
    this.available = totalBuffers;
  }

  get availableBuffers(): number {
    return this.available;
  }

  tryRequest(): boolean {
    if (this.available === 0) return false;
    this.available--;
    return true;
  }

  /** Reserves `n` buffers at once (exclusive buffers of a new input channel) or fails with a clear error. */
  requestExclusive(n: number, what: string): void {
    if (this.available < n) {
      throw new RiffleError(
        "INSUFFICIENT_NETWORK_BUFFERS",
        `${what} needs ${n} network buffers but only ${this.available} of ${this.totalBuffers} are free; raise taskmanager.network.memory or lower the parallelism`,
      );
    }
    this.available -= n;
  }

  /**
   * A buffer even when none is free (Flink's overdraft buffers): only for data that must go out before
   * an in-band event, such as the partly filled batches a checkpoint barrier has to follow. The pool
   * runs negative until as many buffers come back.
   */
  forceRequest(): void {
    this.available--;
  }

  recycle(n = 1): void {
    this.available += n;
    if (this.available > this.totalBuffers) throw new Error(`network buffer pool over-recycled: ${this.available} > ${this.totalBuffers}`);
    this.freed.notify();
  }

  /** Resolves when buffers are returned. */
  whenRecycled(): Promise<void> {
    return this.freed.wait();
  }
}
