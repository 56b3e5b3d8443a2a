import type { NetworkBufferPool } from "./buffer-pool.js";
import type { InputItem } from "./buffer.js";
import type { ChannelOwner, InputChannel } from "./input-channel.js";
import { type FloatingBuffers, RemoteInputChannel } from "./remote-channel.js";
import { Signal } from "./signal.js";

export interface GateItem {
  channel: number;
  buffer: InputItem;
}

/**
 * The input of a task for one edge: a channel per producer subtask. Channels with data wait in a
 * FIFO and are served round-robin; `available()` resolves when one gets data.
 *
 *   producer 0 ──► channel 0 ─┐
 *   producer 1 ──► channel 1 ─┼──► ready queue ──► pollNext() ──► task
 *   producer 2 ──► channel 2 ─┘
 *
 * The gate also owns the floating buffers its remote channels borrow (up to `maxFloating`).
 */
export class InputGate implements ChannelOwner, FloatingBuffers {
  readonly channels: InputChannel[] = [];
  private readonly ready: InputChannel[] = [];
  private readonly queued = new Set<InputChannel>();
  private readonly ended = new Set<InputChannel>();
  /** Channels held back during barrier alignment: their data waits until the checkpoint is taken. */
  private readonly blocked = new Set<InputChannel>();
  /** Called when a channel delivered its end of partition (alignment stops waiting for it). */
  onChannelEnded: (channel: number) => void = () => {};
  private readonly signal = new Signal();
  private failure: Error | undefined;
  private floatingHeld = 0;
  private readonly waitingForFloating: RemoteInputChannel[] = [];
  private watchingPool = false;
  private closed = false;

  constructor(
    readonly index: number,
    private readonly pool: NetworkBufferPool,
    private readonly maxFloating: number,
  ) {}

  addChannel(channel: InputChannel): void {
    this.channels.push(channel);
  }

  notifyChannelNonEmpty(channel: InputChannel): void {
    if (this.queued.has(channel) || this.blocked.has(channel)) return;
    this.queued.add(channel);
    this.ready.push(channel);
    this.signal.notify();
  }

  notifyChannelFailed(_channel: InputChannel, error: Error): void {
    this.failure ??= error;
    this.signal.notify();
  }

  /**
   * The next buffer or barrier of any unblocked channel; end-of-partition events are absorbed (see
   * `isFinished` and `onChannelEnded`).
   */
  pollNext(): GateItem | undefined {
    if (this.failure) throw this.failure;
    while (this.ready.length > 0) {
      const channel = this.ready.shift()!;
      this.queued.delete(channel);
      if (this.blocked.has(channel)) continue;
      const buffer = channel.poll();
      if (buffer === undefined) continue;
      if (channel.hasData()) {
        this.queued.add(channel);
        this.ready.push(channel);
      }
      if (buffer.type === "END_OF_PARTITION") {
        this.ended.add(channel);
        this.onChannelEnded(channel.index);
        continue;
      }
      return { channel: channel.index, buffer };
    }
    return undefined;
  }

  block(channel: number): void {
    const c = this.channels[channel];
    if (c) this.blocked.add(c);
  }

  unblockAll(): void {
    const held = [...this.blocked];
    this.blocked.clear();
    for (const c of held) if (c.hasData()) this.notifyChannelNonEmpty(c);
  }

  isChannelEnded(channel: number): boolean {
    const c = this.channels[channel];
    return c !== undefined && this.ended.has(c);
  }

  isFinished(): boolean {
    return this.ended.size === this.channels.length;
  }

  available(): Promise<void> {
    return this.signal.wait();
  }

  // FloatingBuffers

  request(channel: RemoteInputChannel): boolean {
    if (this.floatingHeld < this.maxFloating && this.pool.tryRequest()) {
      this.floatingHeld++;
      return true;
    }
    if (!this.waitingForFloating.includes(channel)) this.waitingForFloating.push(channel);
    if (this.floatingHeld < this.maxFloating) this.watchPool();
    return false;
  }

  giveBack(): void {
    while (this.waitingForFloating.length > 0 && !this.closed) {
      const channel = this.waitingForFloating.shift()!;
      if (channel.wantsFloating()) {
        channel.assignFloating();
        return;
      }
    }
    this.floatingHeld--;
    this.pool.recycle();
  }

  /** Channels wait for floating buffers the network pool could not give: retry when it gets some back. */
  private watchPool(): void {
    if (this.watchingPool) return;
    this.watchingPool = true;
    void this.pool.whenRecycled().then(() => {
      this.watchingPool = false;
      if (this.closed) return;
      while (this.waitingForFloating.length > 0 && this.floatingHeld < this.maxFloating) {
        const channel = this.waitingForFloating[0]!;
        if (!channel.wantsFloating()) {
          this.waitingForFloating.shift();
          continue;
        }
        if (!this.pool.tryRequest()) {
          this.watchPool();
          return;
        }
        this.floatingHeld++;
        this.waitingForFloating.shift();
        channel.assignFloating();
      }
    });
  }

  /** Buffers received and not yet read. */
  queuedBuffers(): number {
    let n = 0;
    for (const c of this.channels) n += c.queuedBuffers();
    return n;
  }

  /**
   * Fraction (0..1) of the buffers this gate's channels may hold that they hold (Flink's inPoolUsage):
   * received and unread buffers over exclusive plus floating ones. Channels in the producer's own slot
   * hold none of their own.
   */
  usage(): number {
    let capacity = 0;
    for (const c of this.channels) if (c instanceof RemoteInputChannel) capacity += c.capacity;
    if (capacity === 0) return 0;
    return Math.min(1, this.queuedBuffers() / (capacity + this.maxFloating));
  }

  close(): void {
    if (this.closed) return;
    for (const c of this.channels) c.close();
    this.closed = true;
    this.waitingForFloating.length = 0;
    this.signal.notify();
  }
}
