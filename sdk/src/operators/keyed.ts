import { RiffleError } from "@riffle/shared";
import { callHook, callSnapshotHook, closeFunction, openFunction, type RuntimeContext } from "../api/functions.js";
import { InternalTimerService, type Triggerable } from "../time/timer-service.js";
import { ValueStateDescriptor } from "../state/descriptors.js";
import type { InternalKeyedStateBackend } from "../state/backend.js";
import type { ValueState } from "../state/state.js";
import type { KeyedStateStore } from "../state/stores.js";
import { StreamOperator, callable, type OperatorRuntime, type OperatorStateContext } from "./operator.js";

/** Timers fired per step of a watermark: small enough to keep a step within a few milliseconds. */
const FIRE_BATCH = 512;

/**
 * Keyed operators keep their values in the task's keyed state backend, scoped to the record's key:
 * the backend checkpoints them by key group, so they survive failures and rescaling. The operator
 * sets the current key before each record; user functions see state of that key only.
 */

export abstract class KeyedOperator extends StreamOperator {
  protected readonly keyOf: (v: unknown) => unknown;
  protected backend!: InternalKeyedStateBackend;
  private rt!: OperatorRuntime;
  private readonly timerServices: InternalTimerService[] = [];
  /** A watermark whose timers are not all fired yet (see processWatermark). */
  private pendingWatermark: number | undefined;

  constructor(
    keySelector: unknown,
    protected readonly userFunction: unknown,
  ) {
    super();
    this.keyOf = callable(keySelector, "getKey", "a key selector");
  }

  override async initializeState(state: OperatorStateContext, rt: OperatorRuntime): Promise<void> {
    if (!state.keyed) throw new RiffleError("INTERNAL", "a keyed operator runs without a keyed state backend");
    this.backend = state.keyed;
    this.rt = rt;
    await callHook(this.userFunction, "initializeState", { isRestored: state.isRestored, operatorState: state.operator, keyedState: state.keyed });
  }

  /**
   * The operator's timer service `name`, restored from the checkpoint when the job restores (Flink's
   * getInternalTimerService): its timers live in the keyed state backend, which checkpoints them.
   * Call from initializeState, after super.initializeState.
   */
  protected getInternalTimerService(name: string, target: Triggerable): InternalTimerService {
    // Two services of one name would share (and both fire) the same timers.
    if (this.timerServices.some((t) => t.name === name)) throw new RiffleError("INTERNAL", `the operator already has a timer service '${name}'`);
    const service = new InternalTimerService(name, this.backend, this.rt.processingTime, target);
    this.timerServices.push(service);
    return service;
  }

  /**
   * Fires the event-time timers the watermark passed, then forwards it. At most FIRE_BATCH timers fire
   * per call: the rest are pending work the task continues between its other steps (before any more
   * input, so the watermark is still handled as one step in the stream's order).
   */
  override processWatermark(watermark: number): void {
    this.pendingWatermark = this.pendingWatermark === undefined ? watermark : Math.max(this.pendingWatermark, watermark);
    this.continueWork();
  }

  override hasPendingWork(): boolean {
    return this.pendingWatermark !== undefined;
  }

  override continueWork(): void {
    const watermark = this.pendingWatermark;
    if (watermark === undefined) return;
    let budget = FIRE_BATCH;
    for (let i = 0; i < this.timerServices.length; i++) {
      budget = this.timerServices[i]!.advanceWatermark(watermark, budget);
      if (budget <= 0) return;
    }
    this.pendingWatermark = undefined;
    this.output.emitWatermark(watermark);
  }

  override async open(rt: OperatorRuntime): Promise<void> {
    await openFunction(this.userFunction, keyedContext(rt.ctx, this.backend));
  }

  override snapshotState(checkpointId: number): void {
    // Timers are not snapshotted here: the keyed state backend captures its timer queues with the keyed state.
    callSnapshotHook(this.userFunction, checkpointId);
  }

  override async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    await callHook(this.userFunction, "notifyCheckpointComplete", checkpointId);
  }

  override async notifyCheckpointAborted(checkpointId: number): Promise<void> {
    await callHook(this.userFunction, "notifyCheckpointAborted", checkpointId);
  }

  override async close(): Promise<void> {
    for (const t of this.timerServices) t.close();
    await closeFunction(this.userFunction);
  }
}

/** The runtime context of a keyed function: also a KeyedStateStore of the current key (Flink's getRuntimeContext().getState). */
export function keyedContext(ctx: RuntimeContext, backend: InternalKeyedStateBackend): RuntimeContext & KeyedStateStore {
  return {
    ...ctx,
    getState: (d) => backend.getState(d),
    getListState: (d) => backend.getListState(d),
    getMapState: (d) => backend.getMapState(d),
    getReducingState: (d) => backend.getReducingState(d),
    getAggregatingState: (d) => backend.getAggregatingState(d),
  };
}

export class KeyedReduceOperator extends KeyedOperator {
  private readonly reduce: (a: unknown, b: unknown) => unknown;
  private value!: ValueState<unknown>;

  constructor(userFunction: unknown, keySelector: unknown) {
    super(keySelector, userFunction);
    this.reduce = callable(userFunction, "reduce", "a reduce function");
  }

  override async initializeState(state: OperatorStateContext, rt: OperatorRuntime): Promise<void> {
    await super.initializeState(state, rt);
    this.value = this.backend.getState(new ValueStateDescriptor<unknown>("_reduce"));
  }

  processElement(record: unknown, timestamp: number | undefined): void {
    this.backend.setCurrentKey(this.keyOf(record));
    const prev = this.value.value();
    const next = prev === undefined ? record : this.reduce(prev, record);
    this.value.update(next);
    this.output.collect(next, timestamp);
  }
}

export type AggregationType = "sum" | "min" | "max" | "minBy" | "maxBy";

/**
 * Flink's rolling aggregations: `sum`/`min`/`max` update one field of the key's first record;
 * `minBy`/`maxBy` keep the whole record holding the extreme value (the first one on ties).
 *
 * `sum` of a field keeps a private copy of the key's first record in state, changes its field in
 * place and emits a copy of it: the object in state lives long and is never shared, while the
 * emitted copies die young unless downstream keeps them. (Storing each new copy instead, as `min`
 * and `max` do when the extreme changes, makes every record's copy survive until the key's next
 * record: measured about half the keyed operator's time in garbage collection and write barriers.)
 * Changing a value read from ValueState in place and then updating it is safe in every backend: a
 * read hands pending snapshots what they need first.
 */
export class KeyedAggregateOperator extends KeyedOperator {
  /** The aggregation, chosen once: the per-record path has no switch. */
  private readonly combine: (acc: unknown, record: unknown) => unknown;
  /** `sum` of a field of objects or arrays: the accumulator in state is changed in place. */
  private readonly inPlace: boolean;
  private value!: ValueState<unknown>;

  constructor(
    keySelector: unknown,
    private readonly type: AggregationType,
    private readonly field: string | number | null,
  ) {
    super(keySelector, undefined);
    this.combine = this.combinerFor(type);
    this.inPlace = type === "sum" && field !== null;
  }

  override async initializeState(state: OperatorStateContext, rt: OperatorRuntime): Promise<void> {
    await super.initializeState(state, rt);
    this.value = this.backend.getState(new ValueStateDescriptor<unknown>("_aggregate"));
  }

  processElement(record: unknown, timestamp: number | undefined): void {
    this.backend.setCurrentKey(this.keyOf(record));
    const acc = this.value.value();
    if (this.inPlace) {
      if (acc === undefined) {
        this.read(record);
        this.value.update(this.copy(record));
        this.output.collect(record, timestamp);
      } else {
        const sum = this.read(acc) + this.read(record);
        (acc as Record<string | number, unknown>)[this.field!] = sum;
        this.value.update(acc);
        this.output.collect(this.copy(acc), timestamp);
      }
      return;
    }
    let next: unknown;
    if (acc === undefined) {
      this.read(record);
      next = record;
    } else {
      next = this.combine(acc, record);
    }
    this.value.update(next);
    this.output.collect(next, timestamp);
  }

  private combinerFor(type: AggregationType): (acc: unknown, record: unknown) => unknown {
    switch (type) {
      case "sum":
        return (acc, record) => this.write(acc, this.read(acc) + this.read(record));
      case "min":
        return (acc, record) => {
          const b = this.read(record);
          return b < this.read(acc) ? this.write(acc, b) : acc;
        };
      case "max":
        return (acc, record) => {
          const b = this.read(record);
          return b > this.read(acc) ? this.write(acc, b) : acc;
        };
      case "minBy":
        return (acc, record) => (this.read(record) < this.read(acc) ? record : acc);
      case "maxBy":
        return (acc, record) => (this.read(record) > this.read(acc) ? record : acc);
    }
  }

  private read(record: unknown): number {
    const v = this.field === null ? record : (record as Record<string | number, unknown>)?.[this.field];
    if (typeof v !== "number") throw new Error(`${this.type}(${this.field ?? ""}) needs a number, got ${JSON.stringify(v)}`);
    return v;
  }

  private write(acc: unknown, value: number): unknown {
    if (this.field === null) return value;
    // A copy, never the accumulator itself: emitted records may still be held downstream.
    const copy = this.copy(acc) as Record<string | number, unknown>;
    copy[this.field] = value;
    return copy;
  }

  /** A shallow copy of a record (an object or an array). */
  private copy(record: unknown): unknown {
    return Array.isArray(record) ? record.slice() : { ...(record as Record<string | number, unknown>) };
  }
}
