import type { Output } from "../operators/operator.js";
import type { WatermarkOutput } from "./watermark-strategy.js";

const NO_WATERMARK = Number.MIN_SAFE_INTEGER;

/**
 * The watermark side of an operator's output: forwards a watermark only when it advances, and the
 * idle/active status only when it changes. A record sent while idle makes the output active first
 * (see `beforeRecord`).
 */
export class WatermarkEmitter implements WatermarkOutput {
  current = NO_WATERMARK;
  idle = false;

  constructor(private readonly output: Output) {}

  emitWatermark(watermark: number): void {
    if (watermark <= this.current) return;
    this.current = watermark;
    if (this.idle) this.markActive();
    this.output.emitWatermark(watermark);
  }

  markIdle(): void {
    if (this.idle) return;
    this.idle = true;
    this.output.emitWatermarkStatus(true);
  }

  markActive(): void {
    if (!this.idle) return;
    this.idle = false;
    this.output.emitWatermarkStatus(false);
  }

  /** Call before emitting a record: a record means the output is active. */
  beforeRecord(): void {
    if (this.idle) this.markActive();
  }
}
