import { RiffleError } from "@riffle/shared";

/** No watermark yet (Flink's Long.MIN_VALUE). Same value as the operator package's MIN_WATERMARK. */
const NO_WATERMARK = Number.MIN_SAFE_INTEGER;

/** Where a watermark generator emits (Flink's WatermarkOutput). */
export interface WatermarkOutput {
  /** Event time reached `watermark`; smaller or equal values than the last are ignored. */
  emitWatermark(watermark: number): void;
  /** No records for now: downstream leaves this output out of its watermark. */
  markIdle(): void;
  /** Records again (emitting a watermark does this too). */
  markActive(): void;
}

/**
 * Generates watermarks from the events it sees (`onEvent`, for punctuated watermarks) and/or
 * periodically (`onPeriodicEmit`, every auto-watermark interval), as Flink's WatermarkGenerator.
 */
export interface WatermarkGenerator<T> {
  onEvent(event: T, eventTimestamp: number, output: WatermarkOutput): void;
  onPeriodicEmit(output: WatermarkOutput): void;
}

/** Picks the event-time timestamp of a record; `recordTimestamp` is the one it came with, if any. */
export type TimestampAssigner<T> = (element: T, recordTimestamp: number | undefined) => number;

/** What a generator factory gets: the processing-time clock (for idleness), in epoch ms. */
export interface WatermarkGeneratorContext {
  currentProcessingTime(): number;
}

/**
 * Flink's bounded out-of-orderness generator: the watermark trails the largest timestamp seen by
 * the bound, so records at most `maxOutOfOrdernessMs` late are still on time.
 */
export class BoundedOutOfOrdernessWatermarks<T> implements WatermarkGenerator<T> {
  private maxTimestamp: number;

  constructor(private readonly outOfOrdernessMs: number) {
    if (!Number.isFinite(outOfOrdernessMs) || outOfOrdernessMs < 0) {
      throw new RiffleError("JOB_INVALID_GRAPH", `the out-of-orderness bound must be >= 0 ms, got ${outOfOrdernessMs}`);
    }
    this.maxTimestamp = NO_WATERMARK + outOfOrdernessMs + 1;
  }

  onEvent(_event: T, eventTimestamp: number): void {
    if (eventTimestamp > this.maxTimestamp) this.maxTimestamp = eventTimestamp;
  }

  onPeriodicEmit(output: WatermarkOutput): void {
    output.emitWatermark(this.maxTimestamp - this.outOfOrdernessMs - 1);
  }
}

/**
 * Marks the output idle when no event arrived for `idleTimeoutMs` of processing time, checked at
 * every periodic emit (Flink's WatermarksWithIdleness). An event makes it active again.
 */
export class WatermarksWithIdleness<T> implements WatermarkGenerator<T> {
  private lastActivity: number;
  private idle = false;

  constructor(
    private readonly inner: WatermarkGenerator<T>,
    private readonly idleTimeoutMs: number,
    private readonly ctx: WatermarkGeneratorContext,
  ) {
    this.lastActivity = ctx.currentProcessingTime();
  }

  onEvent(event: T, eventTimestamp: number, output: WatermarkOutput): void {
    this.lastActivity = this.ctx.currentProcessingTime();
    if (this.idle) {
      this.idle = false;
      output.markActive();
    }
    this.inner.onEvent(event, eventTimestamp, output);
  }

  onPeriodicEmit(output: WatermarkOutput): void {
    if (this.ctx.currentProcessingTime() - this.lastActivity >= this.idleTimeoutMs) {
      if (!this.idle) {
        this.idle = true;
        output.markIdle();
      }
      return;
    }
    this.inner.onPeriodicEmit(output);
  }
}

const NO_WATERMARKS: WatermarkGenerator<unknown> = { onEvent() {}, onPeriodicEmit() {} };

/**
 * How a stream gets event-time timestamps and watermarks (Flink's WatermarkStrategy): a generator,
 * an optional timestamp assigner and an optional idleness timeout. Given to `env.fromSource(...)`
 * (watermarks per source split) or to `stream.assignTimestampsAndWatermarks(...)`.
 *
 * ```ts
 * WatermarkStrategy.forBoundedOutOfOrderness<Click>(5_000)
 *   .withTimestampAssigner((c) => c.time)
 *   .withIdleness(60_000);
 * ```
 */
export class WatermarkStrategy<T> {
  private constructor(
    private readonly generatorFactory: (ctx: WatermarkGeneratorContext) => WatermarkGenerator<T>,
    /** Absent: records keep the timestamp they arrive with. */
    readonly timestampAssigner: TimestampAssigner<T> | undefined,
    readonly idleTimeoutMs: number | undefined,
  ) {}

  /** Timestamps never decrease: the watermark is the largest timestamp seen, minus 1 ms. */
  static forMonotonousTimestamps<T>(): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>(() => new BoundedOutOfOrdernessWatermarks<T>(0), undefined, undefined);
  }

  /** Records arrive at most `maxOutOfOrdernessMs` later than a record with a larger timestamp. */
  static forBoundedOutOfOrderness<T>(maxOutOfOrdernessMs: number): WatermarkStrategy<T> {
    new BoundedOutOfOrdernessWatermarks<T>(maxOutOfOrdernessMs); // validates now, at job build time
    return new WatermarkStrategy<T>(() => new BoundedOutOfOrdernessWatermarks<T>(maxOutOfOrdernessMs), undefined, undefined);
  }

  /** A custom generator: punctuated (emits in onEvent), periodic (in onPeriodicEmit), or both. */
  static forGenerator<T>(factory: (ctx: WatermarkGeneratorContext) => WatermarkGenerator<T>): WatermarkStrategy<T> {
    if (typeof factory !== "function") throw new RiffleError("JOB_INVALID_GRAPH", "WatermarkStrategy.forGenerator needs a function that creates a generator");
    return new WatermarkStrategy<T>(factory, undefined, undefined);
  }

  /** Timestamps (if any) pass through; no watermarks. */
  static noWatermarks<T>(): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>(() => NO_WATERMARKS as WatermarkGenerator<T>, undefined, undefined);
  }

  withTimestampAssigner(assigner: TimestampAssigner<T>): WatermarkStrategy<T> {
    if (typeof assigner !== "function")
      throw new RiffleError("JOB_INVALID_GRAPH", "withTimestampAssigner needs a function (element, recordTimestamp) => timestamp");
    return new WatermarkStrategy<T>(this.generatorFactory, assigner, this.idleTimeoutMs);
  }

  /** Marks a source split (or stream) idle after `timeoutMs` without records, so it does not hold back the watermark. */
  withIdleness(timeoutMs: number): WatermarkStrategy<T> {
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RiffleError("JOB_INVALID_GRAPH", `the idleness timeout must be > 0 ms, got ${timeoutMs}`);
    return new WatermarkStrategy<T>(this.generatorFactory, this.timestampAssigner, timeoutMs);
  }

  /** @internal a fresh generator (with idleness when set) for one output or split. */
  createGenerator(ctx: WatermarkGeneratorContext): WatermarkGenerator<T> {
    const g = this.generatorFactory(ctx);
    if (typeof g?.onEvent !== "function" || typeof g.onPeriodicEmit !== "function") {
      throw new RiffleError("JOB_INVALID_GRAPH", "a watermark generator needs onEvent and onPeriodicEmit methods");
    }
    return this.idleTimeoutMs === undefined ? g : new WatermarksWithIdleness(g, this.idleTimeoutMs, ctx);
  }
}
