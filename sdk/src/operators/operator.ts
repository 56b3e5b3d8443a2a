import type { RuntimeContext } from "../api/functions.js";
import type { RestoredCheckpoint, SinkServices } from "../api/sink.js";
import type { InternalKeyedStateBackend } from "../state/backend.js";
import type { OperatorStateStore } from "../state/stores.js";

/** No watermark yet (Flink's Long.MIN_VALUE). */
export const MIN_WATERMARK = Number.MIN_SAFE_INTEGER;
/** The end of event time: sent when a source ends, fires every event-time timer (Flink's Long.MAX_VALUE). */
export const MAX_WATERMARK = Number.MAX_SAFE_INTEGER;

/**
 * Where an operator sends its results: the next operator of the chain, or a network output.
 *
 * A record travels with its event-time timestamp (undefined when it has none), as a separate argument
 * rather than a wrapper object, so that the per-record path allocates nothing. Watermarks and
 * watermark status (idle/active) are in-band: they follow the records emitted before them.
 */
export interface Output {
  collect(record: unknown, timestamp?: number): void;
  /** Event time has reached `watermark`: no record with a timestamp <= watermark follows. */
  emitWatermark(watermark: number): void;
  /** `idle`: this output sends neither records nor watermarks for now, so consumers leave it out of their minimum. */
  emitWatermarkStatus(idle: boolean): void;
  /** A record for the side output `tag` (an OutputTag's id); dropped when nothing consumes the tag. */
  collectSide(tag: string, record: unknown, timestamp?: number): void;
}

/**
 * Processing time of a task. Callbacks run in the task's mailbox (between records, never concurrently
 * with processElement), like Flink's ProcessingTimeService.
 */
export interface ProcessingTimeService {
  getCurrentProcessingTime(): number;
  /** Runs `callback(time)` in the mailbox at or after `time` (epoch ms); returns a cancel function. */
  registerTimer(time: number, callback: (time: number) => void): () => void;
}

/**
 * What travels between a source's reader and its enumerator in the JobManager, as JSON (Flink's
 * OperatorEvent): split assignments and the end of them one way, registration and split requests the
 * other, and the source's own events both ways.
 */
export type OperatorEvent =
  | { type: "AddSplits"; splits: unknown[] }
  | { type: "NoMoreSplits" }
  | { type: "SourceEvent"; event: unknown }
  | { type: "ReaderRegistration" }
  | { type: "RequestSplit" };

export interface OperatorRuntime {
  readonly ctx: RuntimeContext;
  /** Sends an event to the operator's coordinator in the JobManager; absent where there is none (operator tests). */
  readonly sendOperatorEvent?: (event: OperatorEvent) => void;
  readonly services: SinkServices;
  readonly processingTime: ProcessingTimeService;
  /** How often periodic watermark generators run (Flink's pipeline.auto-watermark-interval); 0: never. */
  readonly autoWatermarkIntervalMs: number;
}

/** The state of one operator of one subtask, created by the task before the operator opens. */
export interface OperatorStateContext {
  /** Keyed state for operators after a keyBy. */
  readonly keyed: InternalKeyedStateBackend | undefined;
  readonly operator: OperatorStateStore;
  readonly isRestored: boolean;
  /** What the task restores from, when it does; absent where the runtime does not say (operator tests). */
  readonly restoredFrom?: RestoredCheckpoint;
  /**
   * The job's checkpoint history at this deployment, also when nothing is restored: what a
   * two-phase-commit sink must spare and how far earlier attempts can have got. Absent where the
   * runtime does not say.
   */
  readonly history?: { readonly retainedUpTo: number; readonly nextCheckpointId: number };
}

/**
 * The operator contract (after Arroyo's): one required method, `processElement`; every other hook has
 * a default. Operators run inside the task's mailbox loop, so they never need locks; processElement is
 * synchronous and must not block.
 */
export abstract class StreamOperator {
  output: Output = DISCARD;

  /**
   * Records dropped because they came too late (Flink's numLateRecordsDropped): by window operators
   * and interval joins without a late-data side output. Read by the task's metrics.
   */
  numLateRecordsDropped = 0;

  /** Sets up checkpointed state (restored, when the job restores), before open. */
  initializeState(_state: OperatorStateContext, _rt: OperatorRuntime): void | Promise<void> {}

  open(_rt: OperatorRuntime): void | Promise<void> {}

  /**
   * Before the synchronous part of checkpoint n (Flink's prepareSnapshotPreBarrier): work that must be
   * done before the barrier goes on, such as a sink's flush. A returned promise is awaited by the task,
   * which takes no input meanwhile; a rejection declines the checkpoint.
   */
  prepareSnapshotPreBarrier(_checkpointId: number): Promise<void> | undefined {
    return undefined;
  }

  /** Synchronous part of checkpoint n: put everything the operator holds outside its state into it. */
  snapshotState(_checkpointId: number): void {}

  /** An event from the operator's coordinator in the JobManager (a source's split enumerator). */
  handleOperatorEvent(_event: OperatorEvent): void {
    throw new Error(`${this.constructor.name} has no coordinator`);
  }

  notifyCheckpointComplete(_checkpointId: number): void | Promise<void> {}

  notifyCheckpointAborted(_checkpointId: number): void | Promise<void> {}

  abstract processElement(record: unknown, timestamp: number | undefined): void;

  /** A record of the second input of a two-input operator (connect, joins). */
  processElement2(_record: unknown, _timestamp: number | undefined): void {
    throw new Error(`${this.constructor.name} has one input`);
  }

  /**
   * The input watermark advanced (for a two-input operator: the minimum over both inputs). Operators
   * with event-time timers fire them first; the default forwards the watermark.
   */
  processWatermark(watermark: number): void {
    this.output.emitWatermark(watermark);
  }

  /**
   * True while a watermark left work undone (timers still to fire, the watermark not yet forwarded).
   * The task then calls {@link continueWork} instead of taking more input, checking its outputs and
   * yielding in between: a watermark that fires a million windows neither blocks the TaskManager's
   * event loop nor piles up output beyond back-pressure.
   */
  hasPendingWork(): boolean {
    return false;
  }

  /** Does the next bounded share of the pending work. */
  continueWork(): void {}

  /** Every input became idle (`true`) or one became active again (`false`). */
  processWatermarkStatus(idle: boolean): void {
    this.output.emitWatermarkStatus(idle);
  }

  /** The operator's input has ended: emit or write out anything held back. */
  endInput(): void | Promise<void> {}

  close(): void | Promise<void> {}

  /** False while the operator cannot take records (a sink with a full outlet). */
  isAvailable(): boolean {
    return true;
  }

  available(): Promise<void> {
    return Promise.resolve();
  }
}

export const DISCARD: Output = { collect() {}, emitWatermark() {}, emitWatermarkStatus() {}, collectSide() {} };

/** Sends each record to several outputs (an operator feeding more than one consumer). */
export class BroadcastingOutput implements Output {
  constructor(private readonly outputs: readonly Output[]) {}

  collect(record: unknown, timestamp?: number): void {
    for (let i = 0; i < this.outputs.length; i++) this.outputs[i]!.collect(record, timestamp);
  }

  emitWatermark(watermark: number): void {
    for (let i = 0; i < this.outputs.length; i++) this.outputs[i]!.emitWatermark(watermark);
  }

  emitWatermarkStatus(idle: boolean): void {
    for (let i = 0; i < this.outputs.length; i++) this.outputs[i]!.emitWatermarkStatus(idle);
  }

  collectSide(tag: string, record: unknown, timestamp?: number): void {
    for (let i = 0; i < this.outputs.length; i++) this.outputs[i]!.collectSide(tag, record, timestamp);
  }
}

export function combineOutputs(outputs: readonly Output[]): Output {
  if (outputs.length === 0) return DISCARD;
  if (outputs.length === 1) return outputs[0]!;
  return new BroadcastingOutput(outputs);
}

/** A user function given as a plain function or as an object with the named method. */
/**
 * Base of the context objects user functions get with every record: `timestamp` reads the operator's
 * current one. A class, not an object literal with a getter: V8 keeps such a literal in dictionary
 * mode, and every read of it from optimized code is then a generic lookup (decision 0020). Callers add
 * the other members with Object.assign; own data properties keep the object fast.
 */
export class LiveContext {
  readonly #currentTimestamp: () => number | undefined;

  constructor(currentTimestamp: () => number | undefined) {
    this.#currentTimestamp = currentTimestamp;
  }

  get timestamp(): number | undefined {
    return this.#currentTimestamp();
  }
}

export function callable<F extends (...args: never[]) => unknown>(fn: unknown, method: string, what: string): F {
  if (typeof fn === "function") return fn as F;
  const m = (fn as Record<string, unknown> | null)?.[method];
  if (typeof m === "function") return m.bind(fn) as F;
  throw new Error(`${what} must be a function or an object with a ${method}() method`);
}
