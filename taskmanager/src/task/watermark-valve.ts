import { RiffleError } from "@riffle/shared";
import { MIN_WATERMARK } from "@riffle/sdk/internal";

/** Where the valve sends the task's input watermark and status: the head operator of the chain. */
export interface ValveOutput {
  processWatermark(watermark: number): void;
  processWatermarkStatus(idle: boolean): void;
}

interface ChannelStatus {
  /** The highest watermark the channel sent (MIN_WATERMARK before any). */
  watermark: number;
  idle: boolean;
  /**
   * Counted in the minimum. A channel that comes back from idle counts again only once its
   * watermark caught up with the output, so the output never goes back.
   */
  aligned: boolean;
  /** Delivered its end of partition: left out for good. */
  ended: boolean;
}

/**
 * The watermark of a task from those of its input channels (Flink's StatusWatermarkValve), over every
 * channel of every input gate, so one valve also serves both inputs of a two-input head.
 *
 *   channel 0: wm 12, active ─┐
 *   channel 1: wm  9, active ─┼──► min over aligned active channels = 9 ──► head.processWatermark(9)
 *   channel 2: wm  3, idle   ─┘       (only when it is above the last one sent)
 *
 * - An idle channel is left out of the minimum; when every channel is idle the valve sends idle once
 *   (and first flushes the highest watermark of any channel, as Flink does: nothing holds event time
 *   back any more). When one becomes active again the valve sends active.
 * - Watermarks of an idle channel are ignored: a producer announces active before it sends one.
 * - An ended channel is left out of the minimum (it sent MAX_WATERMARK before ending, if it ended
 *   normally).
 * - The output watermark never goes backwards.
 */
export class StatusWatermarkValve {
  private readonly channels: ChannelStatus[];
  private lastOutputWatermark = MIN_WATERMARK;
  private idleOutput = false;

  constructor(
    numChannels: number,
    private readonly output: ValveOutput,
  ) {
    this.channels = Array.from({ length: numChannels }, () => ({ watermark: MIN_WATERMARK, idle: false, aligned: true, ended: false }));
  }

  /** The task's input watermark: the last one sent to the head. */
  get currentWatermark(): number {
    return this.lastOutputWatermark;
  }

  /** Whether every live channel is idle. */
  get isIdle(): boolean {
    return this.idleOutput;
  }

  inputWatermark(channel: number, watermark: number): void {
    const c = this.channelAt(channel);
    if (c.idle || c.ended || this.idleOutput || !(watermark > c.watermark)) return;
    c.watermark = watermark;
    if (!c.aligned && watermark >= this.lastOutputWatermark) c.aligned = true;
    this.advanceToMinOfAligned();
  }

  inputWatermarkStatus(channel: number, idle: boolean): void {
    const c = this.channelAt(channel);
    if (c.ended || idle === c.idle) return;
    c.idle = idle;
    if (idle) {
      c.aligned = false;
      this.afterChannelLeft(c);
    } else {
      // Its watermark from before it went idle counts if it is not behind what was already sent.
      if (c.watermark >= this.lastOutputWatermark) c.aligned = true;
      if (this.idleOutput) {
        this.idleOutput = false;
        this.output.processWatermarkStatus(false);
      }
    }
  }

  /** The channel delivered its end of partition. */
  channelEnded(channel: number): void {
    const c = this.channelAt(channel);
    if (c.ended) return;
    c.ended = true;
    c.aligned = false;
    if (!c.idle) this.afterChannelLeft(c);
  }

  /** An active channel went idle or ended: the minimum may advance, or the whole input went idle. */
  private afterChannelLeft(c: ChannelStatus): void {
    if (this.idleOutput) return;
    let live = false;
    let active = false;
    for (const ch of this.channels) {
      if (ch.ended) continue;
      live = true;
      if (!ch.idle) active = true;
    }
    if (active) {
      if (c.watermark === this.lastOutputWatermark) this.advanceToMinOfAligned();
      return;
    }
    // Every channel ended: the task is about to finish, nothing more to say downstream.
    if (!live) return;
    // Every live channel is idle: none holds event time back, so flush to the highest of them. Only
    // if the channel that left held the minimum; otherwise the minimum already moved past it.
    if (c.watermark === this.lastOutputWatermark) this.advanceToMaxOfLive();
    this.idleOutput = true;
    this.output.processWatermarkStatus(true);
  }

  private advanceToMinOfAligned(): void {
    let min = Number.POSITIVE_INFINITY;
    let any = false;
    for (const ch of this.channels) {
      if (!ch.aligned) continue;
      any = true;
      if (ch.watermark < min) min = ch.watermark;
    }
    if (any && min > this.lastOutputWatermark) this.emit(min);
  }

  private advanceToMaxOfLive(): void {
    let max = MIN_WATERMARK;
    for (const ch of this.channels) if (!ch.ended && ch.watermark > max) max = ch.watermark;
    if (max > this.lastOutputWatermark) this.emit(max);
  }

  private emit(watermark: number): void {
    this.lastOutputWatermark = watermark;
    this.output.processWatermark(watermark);
  }

  private channelAt(channel: number): ChannelStatus {
    const c = this.channels[channel];
    if (!c) throw new RiffleError("INTERNAL", `watermark valve has no channel ${channel} (it has ${this.channels.length})`);
    return c;
  }
}
