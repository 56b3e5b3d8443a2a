import { RiffleError } from "@riffle/shared";
import type { OutputTag } from "../api/output-tag.js";
import type { ReaderOutput, Source, SourceReader, SourceReaderContext } from "../api/source.js";
import type { ListState } from "../state/state.js";
import { WatermarkEmitter } from "../time/watermark-emitter.js";
import { WatermarkMultiplexer } from "../time/watermark-multiplexer.js";
import type { TimestampAssigner, WatermarkGenerator, WatermarkOutput, WatermarkStrategy } from "../time/watermark-strategy.js";
import { StreamOperator, type OperatorEvent, type OperatorRuntime, type OperatorStateContext, type Output } from "./operator.js";
import { snapshotList } from "./snapshot-list.js";

/**
 * The head of a source vertex: holds the reader and checkpoints its positions in operator list state
 * (split or union, as the source says), handing them back to `createReader` on restore and passing
 * the task's checkpoint notifications on to the reader. With a WatermarkStrategy (env.fromSource), records get their
 * timestamps from its assigner and watermarks are generated per split: the reader's watermark is the
 * minimum over its active splits (Flink's per-split watermarks of FLIP-27 sources).
 *
 * A source with an enumerator (FLIP-27): once its reader started, the operator registers it with the
 * source's coordinator in the JobManager, and hands the coordinator's events (split assignments, the
 * end of them, the source's own events) to the reader, in the task's mailbox.
 */
export class SourceOperator extends StreamOperator {
  reader: SourceReader<unknown> | undefined;
  private positions: ListState<unknown> | undefined;
  private output_: ReaderOutput<unknown> | undefined;
  private emitter: WatermarkEmitter | undefined;
  private cancelPeriodic: (() => void) | undefined;
  private periodic: (() => void) | undefined;

  constructor(
    private readonly source: Source<unknown>,
    private readonly strategy: WatermarkStrategy<unknown> | undefined,
  ) {
    super();
  }

  override initializeState(state: OperatorStateContext, rt: OperatorRuntime): void {
    this.positions = this.source.stateMode === "union" ? state.operator.getUnionListState("source-positions") : state.operator.getListState("source-positions");
    this.reader = this.source.createReader(this.readerContext(rt), state.isRestored ? this.positions.get() : undefined);
  }

  /** Whether the source's splits come from an enumerator in the JobManager. */
  get coordinated(): boolean {
    return typeof this.source.createEnumerator === "function";
  }

  private readerContext(rt: OperatorRuntime): SourceReaderContext {
    const send = rt.sendOperatorEvent;
    const coordinated = this.coordinated;
    const toCoordinator = (event: OperatorEvent): void => {
      if (!coordinated)
        throw new RiffleError("JOB_INVALID_GRAPH", "this source has no enumerator (createEnumerator), so its reader has no coordinator to talk to");
      if (!send) throw new RiffleError("INTERNAL", "this runtime cannot reach the source's coordinator in the JobManager");
      send(event);
    };
    return Object.assign(Object.create(rt.ctx) as SourceReaderContext, {
      sendSplitRequest: () => toCoordinator({ type: "RequestSplit" }),
      sendSourceEventToCoordinator: (event: unknown) => toCoordinator({ type: "SourceEvent", event }),
    });
  }

  /** Starts the reader, then (a source with an enumerator) registers it: splits come after that. */
  async startReader(rt: OperatorRuntime): Promise<void> {
    await this.reader?.start?.();
    if (!this.coordinated) return;
    if (!rt.sendOperatorEvent) throw new RiffleError("INTERNAL", "this runtime cannot reach the source's coordinator in the JobManager");
    rt.sendOperatorEvent({ type: "ReaderRegistration" });
  }

  /** An event of the source's enumerator, run in the task's mailbox between two polls of the reader. */
  override handleOperatorEvent(event: OperatorEvent): void {
    const reader = this.reader!;
    switch (event.type) {
      case "AddSplits":
        if (typeof reader.addSplits !== "function")
          throw new RiffleError("INTERNAL", "the source's enumerator assigned splits, but its reader has no addSplits");
        reader.addSplits(event.splits);
        return;
      case "NoMoreSplits":
        reader.notifyNoMoreSplits?.();
        return;
      case "SourceEvent":
        reader.handleSourceEvents?.(event.event);
        return;
      default:
        throw new RiffleError("INTERNAL", `a source reader cannot handle a ${event.type} event`);
    }
  }

  /**
   * Records the reader emitted into the chain, side outputs included (Flink: the source operator's
   * numRecordsOut). The task's network counters miss them when the source is chained to its sink.
   */
  get numRecordsOut(): number {
    return this.counting?.count ?? 0;
  }

  private counting: CountingOutput | undefined;

  override open(rt: OperatorRuntime): void {
    const out = new CountingOutput(this.output);
    this.counting = out;
    const emitter = new WatermarkEmitter(out);
    this.emitter = emitter;
    if (!this.strategy) {
      this.output_ = passThroughOutput(out, emitter);
      return;
    }
    const outputs = new WatermarkingOutputs(out, emitter, this.strategy, rt);
    this.output_ = outputs.main;
    this.periodic = () => outputs.onPeriodicEmit();
    this.schedulePeriodic(rt);
  }

  private schedulePeriodic(rt: OperatorRuntime): void {
    const interval = rt.autoWatermarkIntervalMs;
    if (interval <= 0 || !this.periodic) return;
    const tick = (time: number) => {
      this.periodic!();
      this.cancelPeriodic = rt.processingTime.registerTimer(time + interval, tick);
    };
    this.cancelPeriodic = rt.processingTime.registerTimer(rt.processingTime.getCurrentProcessingTime() + interval, tick);
  }

  /** What the reader emits into; exists once the operator is open. */
  readerOutput(): ReaderOutput<unknown> {
    return this.output_!;
  }

  /** The end of input (MAX_WATERMARK) goes out even when the reader was idle. */
  override processWatermark(watermark: number): void {
    this.emitter?.emitWatermark(watermark);
  }

  override snapshotState(checkpointId: number): void {
    this.positions?.update(snapshotList("the source reader", this.reader?.snapshotState?.(checkpointId)));
  }

  /** The reader hears of completed and aborted checkpoints (a Kafka reader commits offsets on completion). */
  override async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    await this.reader?.notifyCheckpointComplete?.(checkpointId);
  }

  override async notifyCheckpointAborted(checkpointId: number): Promise<void> {
    await this.reader?.notifyCheckpointAborted?.(checkpointId);
  }

  processElement(record: unknown, timestamp: number | undefined): void {
    this.output.collect(record, timestamp);
  }

  override close(): void {
    this.cancelPeriodic?.();
    this.cancelPeriodic = undefined;
  }
}

/** Counts the records that pass on to the operator's output (Flink's CountingOutput). */
class CountingOutput implements Output {
  count = 0;

  constructor(private readonly out: Output) {}

  collect(record: unknown, timestamp?: number): void {
    this.count++;
    this.out.collect(record, timestamp);
  }

  emitWatermark(watermark: number): void {
    this.out.emitWatermark(watermark);
  }

  emitWatermarkStatus(idle: boolean): void {
    this.out.emitWatermarkStatus(idle);
  }

  collectSide(tag: string, record: unknown, timestamp?: number): void {
    this.count++;
    this.out.collectSide(tag, record, timestamp);
  }
}

/** A reader output without a strategy: timestamps and the reader's own watermarks pass through. */
function passThroughOutput(out: Output, emitter: WatermarkEmitter): ReaderOutput<unknown> {
  const output: ReaderOutput<unknown> = {
    collect(record, timestamp) {
      if (emitter.idle) emitter.markActive();
      out.collect(record, timestamp);
    },
    collectWithTimestamp: (record, timestamp) => output.collect(record, timestamp),
    emitWatermark: (wm) => emitter.emitWatermark(wm),
    markIdle: () => emitter.markIdle(),
    markActive: () => emitter.markActive(),
    createOutputForSplit: () => output,
    releaseOutputForSplit: () => {},
    output: (tag, value, timestamp) => out.collectSide(tag.id, value, timestamp),
  };
  return output;
}

/** One output (the reader's main output, or one split's) with its own watermark generator. */
class GeneratingOutput implements ReaderOutput<unknown> {
  constructor(
    private readonly owner: WatermarkingOutputs,
    private readonly out: Output,
    private readonly assign: TimestampAssigner<unknown> | undefined,
    readonly generator: WatermarkGenerator<unknown>,
    readonly watermarks: WatermarkOutput,
  ) {}

  collect(record: unknown, timestamp?: number): void {
    const ts = this.assign ? this.assign(record, timestamp) : timestamp;
    this.owner.emitter.beforeRecord();
    this.out.collect(record, ts);
    if (ts !== undefined) this.generator.onEvent(record, ts, this.watermarks);
  }

  collectWithTimestamp(record: unknown, timestamp: number): void {
    this.collect(record, timestamp);
  }

  emitWatermark(watermark: number): void {
    this.watermarks.emitWatermark(watermark);
  }

  markIdle(): void {
    this.watermarks.markIdle();
  }

  markActive(): void {
    this.watermarks.markActive();
  }

  createOutputForSplit(splitId: string): ReaderOutput<unknown> {
    return this.owner.split(splitId);
  }

  releaseOutputForSplit(splitId: string): void {
    this.owner.release(splitId);
  }

  output<X>(tag: OutputTag<X>, value: X, timestamp?: number): void {
    this.out.collectSide(tag.id, value, timestamp);
  }
}

/** The reader's main output and its split outputs, combined through a multiplexer. */
class WatermarkingOutputs {
  readonly main: GeneratingOutput;
  private readonly splits = new Map<string, GeneratingOutput>();
  private readonly multiplexer: WatermarkMultiplexer;
  private mainUsed = false;

  constructor(
    private readonly out: Output,
    readonly emitter: WatermarkEmitter,
    private readonly strategy: WatermarkStrategy<unknown>,
    private readonly rt: OperatorRuntime,
  ) {
    this.multiplexer = new WatermarkMultiplexer(emitter);
    const clock = { currentProcessingTime: () => rt.processingTime.getCurrentProcessingTime() };
    // The main output joins the multiplexer on first use, so a reader that only uses split outputs
    // is not held back by an unused main output.
    const mainWatermarks: WatermarkOutput = {
      emitWatermark: (wm) => this.mainPart().emitWatermark(wm),
      markIdle: () => this.mainPart().markIdle(),
      markActive: () => this.mainPart().markActive(),
    };
    this.main = new GeneratingOutput(this, out, strategy.timestampAssigner, strategy.createGenerator(clock), mainWatermarks);
  }

  private mainPart(): WatermarkOutput {
    this.mainUsed = true;
    return this.multiplexer.output("\u0000main");
  }

  split(id: string): GeneratingOutput {
    let s = this.splits.get(id);
    if (!s) {
      const clock = { currentProcessingTime: () => this.rt.processingTime.getCurrentProcessingTime() };
      s = new GeneratingOutput(this, this.out, this.strategy.timestampAssigner, this.strategy.createGenerator(clock), this.multiplexer.output(id));
      this.splits.set(id, s);
    }
    return s;
  }

  release(id: string): void {
    this.splits.delete(id);
    this.multiplexer.remove(id);
  }

  onPeriodicEmit(): void {
    if (this.mainUsed || this.splits.size === 0) this.main.generator.onPeriodicEmit(this.main.watermarks);
    for (const s of this.splits.values()) s.generator.onPeriodicEmit(s.watermarks);
  }
}
