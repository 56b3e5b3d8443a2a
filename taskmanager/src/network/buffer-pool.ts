import { RiffleError } from "@riffle/shared";
import { Signal } from "./signal.js";

/**
 * A slot's network memory: `totalSegments` segments of `segmentSize` bytes, shared by every task of
 * the slot. A segment is used two ways:
 * - as bytes: a record writer fills a real segment (allocated on first use, then reused) and queues it;
 *   it comes back once its reader decoded it or copied it onto the wire;
 * - as a permit: a received buffer (at most one segment of bytes, from another slot or TaskManager)
 *   is held against a credit, and each credit is backed by a permit taken here.
 * When no segment is left, producers stop before their next record: in-flight data is bounded in
 * bytes by construction, whatever the size of the records.
 */
export class NetworkBufferPool {
  private available: number;
  /** Segments returned by readers, ready for the next writer: no allocation in steady state. */
  private readonly free: Buffer[] = [];
  private readonly freed = new Signal();

  constructor(
    readonly totalSegments: number,
    readonly segmentSize: number,
  ) {
    this.available = totalSegments;
  }

  /** Segments (or permits) not in use. */
  get availableSegments(): number {
    return this.available;
  }

  get totalBytes(): number {
    return this.totalSegments * this.segmentSize;
  }

  /** A segment to write into, or undefined when the pool is empty. */
  requestSegment(): Buffer | undefined {
    if (this.available <= 0) return undefined;
    this.available--;
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.segmentSize);
  }

  /** Returns a segment after its bytes were read. */
  recycleSegment(segment: Buffer): void {
    this.free.push(segment);
    this.release(1);
  }

  /** Takes one permit (a received buffer about to be held), or false when none is free. */
  tryRequest(): boolean {
    if (this.available <= 0) return false;
    this.available--;
    return true;
  }

  /** Reserves `n` permits at once (the exclusive buffers of a new input channel) or fails with a clear error. */
  requestExclusive(n: number, what: string): void {
    if (this.available < n) {
      throw new RiffleError(
        "INSUFFICIENT_NETWORK_BUFFERS",
        `${what} needs ${n} network segments but only ${this.available} of ${this.totalSegments} are free in its slot; raise taskmanager.memory.network.size or lower the parallelism`,
      );
    }
    this.available -= n;
  }

  /** Returns `n` permits. */
  recycle(n = 1): void {
    this.release(n);
  }

  private release(n: number): void {
    this.available += n;
    if (this.available > this.totalSegments) throw new Error(`network pool over-recycled: ${this.available} > ${this.totalSegments}`);
    this.freed.notify();
  }

  /** Resolves when segments are returned. */
  whenRecycled(): Promise<void> {
    return this.freed.wait();
  }
}
