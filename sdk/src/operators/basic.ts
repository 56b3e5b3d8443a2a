import { callHook, callSnapshotHook, closeFunction, openFunction, type Collector, type ProcessContext } from "../api/functions.js";
import { nonKeyedTimerService, type TimerService } from "../time/timer-service.js";
import { LiveContext, MIN_WATERMARK, StreamOperator, callable, type OperatorRuntime, type OperatorStateContext } from "./operator.js";

/** An operator around one user function: opens and closes it with the task, and passes on checkpoint hooks. */
export abstract class UserFunctionOperator extends StreamOperator {
  constructor(protected readonly userFunction: unknown) {
    super();
  }

  override async initializeState(state: OperatorStateContext): Promise<void> {
    await callHook(this.userFunction, "initializeState", { isRestored: state.isRestored, operatorState: state.operator, keyedState: state.keyed });
  }

  override snapshotState(checkpointId: number): void {
    callSnapshotHook(this.userFunction, checkpointId);
  }

  override async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    await callHook(this.userFunction, "notifyCheckpointComplete", checkpointId);
  }

  override async notifyCheckpointAborted(checkpointId: number): Promise<void> {
    await callHook(this.userFunction, "notifyCheckpointAborted", checkpointId);
  }

  override async open(rt: OperatorRuntime): Promise<void> {
    await openFunction(this.userFunction, rt.ctx);
  }

  override async close(): Promise<void> {
    await closeFunction(this.userFunction);
  }
}

export class MapOperator extends UserFunctionOperator {
  private readonly fn: (v: unknown) => unknown;

  constructor(userFunction: unknown) {
    super(userFunction);
    this.fn = callable(userFunction, "map", "a map function");
  }

  processElement(record: unknown, timestamp: number | undefined): void {
    this.output.collect(this.fn(record), timestamp);
  }
}

export class FilterOperator extends UserFunctionOperator {
  private readonly fn: (v: unknown) => boolean;

  constructor(userFunction: unknown) {
    super(userFunction);
    this.fn = callable(userFunction, "filter", "a filter function");
  }

  processElement(record: unknown, timestamp: number | undefined): void {
    if (this.fn(record)) this.output.collect(record, timestamp);
  }
}

export class FlatMapOperator extends UserFunctionOperator {
  private readonly fn: (v: unknown, out: Collector<unknown>) => unknown;
  /** The timestamp of the record being processed: every result carries it (Flink's TimestampedCollector). */
  private timestamp: number | undefined;
  private readonly collector: Collector<unknown> = { collect: (r) => this.output.collect(r, this.timestamp) };

  constructor(userFunction: unknown) {
    super(userFunction);
    this.fn = callable(userFunction, "flatMap", "a flatMap function");
  }

  processElement(record: unknown, timestamp: number | undefined): void {
    this.timestamp = timestamp;
    const result = this.fn(record, this.collector);
    if (result === undefined || result === null) return;
    if (Array.isArray(result)) {
      for (let i = 0; i < result.length; i++) this.output.collect(result[i], timestamp);
    } else if (typeof (result as Iterable<unknown>)[Symbol.iterator] === "function") {
      for (const r of result as Iterable<unknown>) this.output.collect(r, timestamp);
    } else {
      throw new Error("a flatMap function must emit through its collector or return an array or iterable");
    }
  }
}

/** Runs a (non-keyed) ProcessFunction: the record's timestamp, side outputs, the current time and watermark. */
export class ProcessOperator extends UserFunctionOperator {
  private readonly fn: (v: unknown, ctx: ProcessContext, out: Collector<unknown>) => void;
  private timestamp: number | undefined;
  private watermark = MIN_WATERMARK;
  private readonly collector: Collector<unknown> = { collect: (r) => this.output.collect(r, this.timestamp) };
  private readonly context: ProcessContext;

  constructor(userFunction: unknown) {
    super(userFunction);
    this.fn = callable(userFunction, "processElement", "a process function");
    this.context = Object.assign(new LiveContext(() => this.timestamp), {
      timerService: () => this.timerService!,
      output: (tag: { id: string }, value: unknown) => this.output.collectSide(tag.id, value, this.timestamp),
    });
  }

  private timerService: TimerService | undefined;

  override async open(rt: OperatorRuntime): Promise<void> {
    this.timerService = nonKeyedTimerService(rt.processingTime, () => this.watermark);
    await super.open(rt);
  }

  processElement(record: unknown, timestamp: number | undefined): void {
    this.timestamp = timestamp;
    this.fn(record, this.context, this.collector);
  }

  override processWatermark(watermark: number): void {
    this.watermark = watermark;
    this.output.emitWatermark(watermark);
  }
}
