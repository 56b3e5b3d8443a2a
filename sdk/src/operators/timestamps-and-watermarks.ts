import { WatermarkEmitter } from "../time/watermark-emitter.js";
import type { TimestampAssigner, WatermarkGenerator, WatermarkStrategy } from "../time/watermark-strategy.js";
import { MAX_WATERMARK, StreamOperator, type OperatorRuntime } from "./operator.js";

/**
 * `assignTimestampsAndWatermarks` (Flink's TimestampsAndWatermarksOperator): gives each record the
 * timestamp its assigner picks and generates watermarks from them, per event and every
 * auto-watermark interval. Watermarks from upstream are dropped, except the end of input.
 */
export class TimestampsAndWatermarksOperator extends StreamOperator {
  private generator!: WatermarkGenerator<unknown>;
  private emitter!: WatermarkEmitter;
  private readonly assign: TimestampAssigner<unknown> | undefined;
  private cancelPeriodic: (() => void) | undefined;

  constructor(private readonly strategy: WatermarkStrategy<unknown>) {
    super();
    this.assign = strategy.timestampAssigner;
  }

  override open(rt: OperatorRuntime): void {
    this.emitter = new WatermarkEmitter(this.output);
    this.generator = this.strategy.createGenerator({ currentProcessingTime: () => rt.processingTime.getCurrentProcessingTime() });
    const interval = rt.autoWatermarkIntervalMs;
    if (interval > 0) {
      const tick = (time: number) => {
        this.generator.onPeriodicEmit(this.emitter);
        this.cancelPeriodic = rt.processingTime.registerTimer(time + interval, tick);
      };
      this.cancelPeriodic = rt.processingTime.registerTimer(rt.processingTime.getCurrentProcessingTime() + interval, tick);
    }
  }

  processElement(record: unknown, timestamp: number | undefined): void {
    const ts = this.assign ? this.assign(record, timestamp) : timestamp;
    this.emitter.beforeRecord();
    this.output.collect(record, ts);
    if (ts !== undefined) this.generator.onEvent(record, ts, this.emitter);
  }

  override processWatermark(watermark: number): void {
    if (watermark === MAX_WATERMARK) this.emitter.emitWatermark(watermark);
  }

  override processWatermarkStatus(): void {}

  override close(): void {
    this.cancelPeriodic?.();
    this.cancelPeriodic = undefined;
  }
}
