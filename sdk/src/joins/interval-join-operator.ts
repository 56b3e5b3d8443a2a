import { RiffleError } from "@riffle/shared";
import type { Collector } from "../api/functions.js";
import { KeyedOperator } from "../operators/keyed.js";
import { MIN_WATERMARK, callable, type OperatorRuntime, type OperatorStateContext } from "../operators/operator.js";
import { DEFAULT_NAMESPACE } from "../state/backend.js";
import { MapStateDescriptor } from "../state/descriptors.js";
import type { MapState } from "../state/state.js";
import type { InternalTimer, InternalTimerService, Triggerable } from "../time/timer-service.js";
import type { ProcessJoinContext } from "./functions.js";

/** Elements of one side with the same timestamp, oldest first. */
type Bucket = unknown[];

const CLEANUP_LEFT = "cleanup-left";
const CLEANUP_RIGHT = "cleanup-right";

export interface IntervalJoinSpec {
  /** Lower bound in ms, as given (before exclusiveness is applied). */
  lowerBound: number;
  upperBound: number;
  lowerBoundInclusive: boolean;
  upperBoundInclusive: boolean;
  /** OutputTag ids for late elements of each side; undefined: late elements are dropped. */
  leftLateTag: string | undefined;
  rightLateTag: string | undefined;
}

/**
 * Joins two keyed streams on event time (Flink's IntervalJoinOperator): a left element `l` and a right
 * element `r` of the same key are a pair when `l.ts + lower <= r.ts <= l.ts + upper`.
 *
 * ```
 *   left   ───l─────────────────────────▶ event time
 *   right       [l+lower ········ l+upper]   every r in here pairs with l
 * ```
 *
 * Each side is buffered in keyed MapState (timestamp → elements), so buffers are checkpointed and
 * move with their key groups on rescaling. Every arriving element is first buffered, then paired
 * with the buffered elements of the other side in its range. A cleanup timer removes a bucket once
 * no element of the other side can pair with it any more: a left bucket when the watermark reaches
 * `ts + upper` (`ts` when upper <= 0), a right bucket when it reaches `ts - lower` (`ts` when
 * lower >= 0). An element with a timestamp below the watermark is late: dropped, or sent to its
 * side's late-data output.
 */
export class IntervalJoinOperator extends KeyedOperator implements Triggerable {
  private readonly fn: (left: unknown, right: unknown, ctx: ProcessJoinContext, out: Collector<unknown>) => void;
  private readonly key2: (v: unknown) => unknown;
  /** Bounds with exclusiveness applied (integer ms: an exclusive bound moves by 1 ms, as in Flink). */
  private readonly lowerBound: number;
  private readonly upperBound: number;
  private leftBuffer!: MapState<number, Bucket>;
  private rightBuffer!: MapState<number, Bucket>;
  private timers!: InternalTimerService;
  private leftTimestamp = MIN_WATERMARK;
  private rightTimestamp = MIN_WATERMARK;
  private resultTimestamp = MIN_WATERMARK;
  private readonly collector: Collector<unknown> = { collect: (r) => this.output.collect(r, this.resultTimestamp) };
  private readonly context: ProcessJoinContext;

  constructor(
    userFunction: unknown,
    key1: unknown,
    key2: unknown,
    private readonly spec: IntervalJoinSpec,
  ) {
    super(key1, userFunction);
    this.fn = callable(userFunction, "processElement", "a process join function");
    this.key2 = callable(key2, "getKey", "a key selector");
    checkBounds(spec.lowerBound, spec.upperBound);
    this.lowerBound = spec.lowerBoundInclusive ? spec.lowerBound : spec.lowerBound + 1;
    this.upperBound = spec.upperBoundInclusive ? spec.upperBound : spec.upperBound - 1;
    this.context = Object.assign(
      new JoinContext(
        () => this.resultTimestamp,
        () => this.leftTimestamp,
        () => this.rightTimestamp,
      ),
      { output: (tag: { id: string }, value: unknown) => this.output.collectSide(tag.id, value, this.resultTimestamp) },
    );
  }

  override async initializeState(state: OperatorStateContext, rt: OperatorRuntime): Promise<void> {
    await super.initializeState(state, rt);
    this.leftBuffer = this.backend.getMapState(new MapStateDescriptor<number, Bucket>("_interval-join/left"));
    this.rightBuffer = this.backend.getMapState(new MapStateDescriptor<number, Bucket>("_interval-join/right"));
    this.timers = this.getInternalTimerService("interval-join-cleanup", this);
  }

  processElement(record: unknown, timestamp: number | undefined): void {
    this.backend.setCurrentKey(this.keyOf(record));
    this.join(record, timestamp, true);
  }

  override processElement2(record: unknown, timestamp: number | undefined): void {
    this.backend.setCurrentKey(this.key2(record));
    this.join(record, timestamp, false);
  }

  /**
   * Buffers one element and pairs it with the other side. For a right element the bounds are
   * mirrored: it pairs with left elements in `[r.ts - upper, r.ts - lower]`.
   */
  private join(record: unknown, ts: number | undefined, isLeft: boolean): void {
    if (typeof ts !== "number") {
      throw new RiffleError(
        "JOB_INVALID_GRAPH",
        "interval join: every element needs an event-time timestamp; give the sources a WatermarkStrategy with a timestamp assigner (env.fromSource(source, strategy) or assignTimestampsAndWatermarks)",
      );
    }
    if (this.isLate(ts)) {
      const tag = isLeft ? this.spec.leftLateTag : this.spec.rightLateTag;
      if (tag !== undefined) this.output.collectSide(tag, record, ts);
      else this.numLateRecordsDropped++;
      return;
    }
    this.backend.setCurrentNamespace(DEFAULT_NAMESPACE);
    const ours = isLeft ? this.leftBuffer : this.rightBuffer;
    const other = isLeft ? this.rightBuffer : this.leftBuffer;
    const relativeLower = isLeft ? this.lowerBound : -this.upperBound;
    const relativeUpper = isLeft ? this.upperBound : -this.lowerBound;

    // A new array, never the stored one changed in place: a checkpoint may still be writing it.
    const bucket = ours.get(ts);
    ours.put(ts, bucket === undefined ? [record] : [...bucket, record]);

    const from = ts + relativeLower;
    const to = ts + relativeUpper;
    for (const [otherTs, elements] of other.entries()) {
      if (otherTs < from || otherTs > to) continue;
      for (let i = 0; i < elements.length; i++) {
        if (isLeft) this.emit(record, elements[i], ts, otherTs);
        else this.emit(elements[i], record, otherTs, ts);
      }
    }

    const cleanupTime = relativeUpper > 0 ? ts + relativeUpper : ts;
    this.timers.registerEventTimeTimer(isLeft ? CLEANUP_LEFT : CLEANUP_RIGHT, cleanupTime);
  }

  /** Late: the watermark passed the timestamp (as Flink: an element exactly at the watermark is not late). */
  private isLate(ts: number): boolean {
    const wm = this.timers.currentWatermark();
    return wm !== MIN_WATERMARK && ts < wm;
  }

  private emit(left: unknown, right: unknown, leftTs: number, rightTs: number): void {
    this.leftTimestamp = leftTs;
    this.rightTimestamp = rightTs;
    this.resultTimestamp = Math.max(leftTs, rightTs);
    this.fn(left, right, this.context, this.collector);
  }

  /** A cleanup timer: removes the bucket it was set for (the timer's namespace names the side). */
  onEventTime(timer: InternalTimer): void {
    const namespace = timer.namespace;
    this.backend.setCurrentNamespace(DEFAULT_NAMESPACE);
    if (namespace === CLEANUP_LEFT) {
      this.leftBuffer.remove(this.upperBound <= 0 ? timer.timestamp : timer.timestamp - this.upperBound);
    } else if (namespace === CLEANUP_RIGHT) {
      this.rightBuffer.remove(this.lowerBound <= 0 ? timer.timestamp + this.lowerBound : timer.timestamp);
    } else {
      throw new RiffleError("INTERNAL", `interval join: a timer in the unknown namespace '${namespace}'`);
    }
  }

  onProcessingTime(): void {}
}

/** Validates interval bounds (Flink: lowerBound <= upperBound, before exclusiveness). */
export function checkBounds(lowerBound: number, upperBound: number): void {
  if (!Number.isSafeInteger(lowerBound) || !Number.isSafeInteger(upperBound)) {
    throw new RiffleError("JOB_INVALID_GRAPH", `intervalJoin(...).between(lower, upper) needs integer milliseconds, got ${lowerBound} and ${upperBound}`);
  }
  if (lowerBound > upperBound) {
    throw new RiffleError("JOB_INVALID_GRAPH", `intervalJoin(...).between(lower, upper): lower (${lowerBound}) must not be above upper (${upperBound})`);
  }
}

/**
 * A process-join function's context: the two joined records' timestamps and the result's. A class,
 * not an object literal with getters (see LiveContext).
 */
class JoinContext {
  readonly #result: () => number;
  readonly #left: () => number;
  readonly #right: () => number;

  constructor(result: () => number, left: () => number, right: () => number) {
    this.#result = result;
    this.#left = left;
    this.#right = right;
  }

  get timestamp(): number {
    return this.#result();
  }

  get leftTimestamp(): number {
    return this.#left();
  }

  get rightTimestamp(): number {
    return this.#right();
  }
}
