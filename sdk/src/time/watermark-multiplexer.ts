import type { WatermarkOutput } from "./watermark-strategy.js";

const NO_WATERMARK = Number.MIN_SAFE_INTEGER;

interface Part {
  watermark: number;
  idle: boolean;
}

/**
 * Combines the watermarks of several parts (the splits a source reader reads) into one (Flink's
 * WatermarkOutputMultiplexer): the minimum over the parts that are not idle, never going back; idle
 * when every part is idle.
 */
export class WatermarkMultiplexer {
  private readonly parts = new Map<string, Part>();
  private combined = NO_WATERMARK;
  private idle = false;

  constructor(private readonly downstream: WatermarkOutput) {}

  /** The output of part `id` (registered on first call). */
  output(id: string): WatermarkOutput {
    let part = this.parts.get(id);
    if (!part) {
      part = { watermark: NO_WATERMARK, idle: false };
      this.parts.set(id, part);
    }
    const p = part;
    return {
      emitWatermark: (wm) => {
        if (wm <= p.watermark && !p.idle) return;
        p.watermark = Math.max(p.watermark, wm);
        p.idle = false;
        this.update();
      },
      markIdle: () => {
        if (p.idle) return;
        p.idle = true;
        this.update();
      },
      markActive: () => {
        if (!p.idle) return;
        p.idle = false;
        this.update();
      },
    };
  }

  /** The part is finished: it no longer holds the combined watermark back. */
  remove(id: string): void {
    if (this.parts.delete(id)) this.update();
  }

  has(id: string): boolean {
    return this.parts.has(id);
  }

  private update(): void {
    let min = Number.POSITIVE_INFINITY;
    let anyActive = false;
    for (const p of this.parts.values()) {
      if (p.idle) continue;
      anyActive = true;
      if (p.watermark < min) min = p.watermark;
    }
    if (!anyActive) {
      if (this.parts.size > 0 && !this.idle) {
        this.idle = true;
        this.downstream.markIdle();
      }
      return;
    }
    if (this.idle) {
      this.idle = false;
      this.downstream.markActive();
    }
    if (min > this.combined) {
      this.combined = min;
      this.downstream.emitWatermark(min);
    }
  }
}
