import { RiffleError, parseDuration } from "@riffle/shared";
import { ConnectedStreams } from "../api/connected-streams.js";
import type { KeyedStream, SingleOutputStreamOperator } from "../api/datastream.js";
import { OutputTag } from "../api/output-tag.js";
import type { ProcessJoinFunction } from "./functions.js";
import { IntervalJoinOperator, checkBounds, type IntervalJoinSpec } from "./interval-join-operator.js";

/**
 * An interval join of two keyed streams, waiting for its bounds (Flink's KeyedStream.IntervalJoin).
 * Start one with {@link KeyedStream.intervalJoin}:
 *
 * ```ts
 * // every click of a user joined with that user's impressions of the 10 minutes before it
 * clicks.keyBy((c) => c.user)
 *   .intervalJoin(impressions.keyBy((i) => i.user))
 *   .between(-600_000, 0)
 *   .process((click, impression, ctx, out) => out.collect({ click, impression, at: ctx.timestamp }));
 * ```
 *
 * Interval joins work on event time only: both inputs need timestamps (a WatermarkStrategy), and the
 * join's buffers are cleaned up as the watermark advances.
 */
export class IntervalJoin<T1, T2, K> {
  /** @internal */
  constructor(
    private readonly left: KeyedStream<T1, K>,
    private readonly right: KeyedStream<T2, K>,
  ) {
    if (left.env !== right.env) throw new RiffleError("JOB_INVALID_GRAPH", "intervalJoin: both streams must belong to the same environment");
  }

  /**
   * Pairs a left element `l` with every right element `r` of the same key for which
   * `l.timestamp + lowerBound <= r.timestamp <= l.timestamp + upperBound`; both bounds inclusive
   * unless made exclusive. Bounds are milliseconds or duration strings, and may be negative:
   * `between(-5000, 0)` or `between("-5s", "0s")`.
   */
  between(lowerBound: number | string, upperBound: number | string): IntervalJoined<T1, T2, K> {
    const lower = boundMs(lowerBound, "lower");
    const upper = boundMs(upperBound, "upper");
    checkBounds(lower, upper);
    return new IntervalJoined<T1, T2, K>(this.left, this.right, lower, upper);
  }
}

/** An interval join with its bounds, ready for its function (Flink's KeyedStream.IntervalJoined). */
export class IntervalJoined<T1, T2, K> {
  private lowerInclusive = true;
  private upperInclusive = true;
  private leftLateTag: string | undefined;
  private rightLateTag: string | undefined;

  /** @internal */
  constructor(
    private readonly left: KeyedStream<T1, K>,
    private readonly right: KeyedStream<T2, K>,
    private readonly lowerBound: number,
    private readonly upperBound: number,
  ) {}

  /** Excludes the lower bound: `r.timestamp > l.timestamp + lower`. */
  lowerBoundExclusive(): this {
    this.lowerInclusive = false;
    return this;
  }

  /** Excludes the upper bound: `r.timestamp < l.timestamp + upper`. */
  upperBoundExclusive(): this {
    this.upperInclusive = false;
    return this;
  }

  /**
   * Sends left elements that arrive late (timestamp below the join's watermark) to the side output
   * `tag` instead of dropping them: `joined.getSideOutput(tag)`.
   */
  sideOutputLeftLateData(tag: OutputTag<T1>): this {
    this.leftLateTag = tagId(tag);
    return this;
  }

  /** Sends late right elements to the side output `tag` instead of dropping them. */
  sideOutputRightLateData(tag: OutputTag<T2>): this {
    this.rightLateTag = tagId(tag);
    return this;
  }

  /** Calls `fn` for every pair; its results carry the larger of the pair's timestamps. */
  process<R>(fn: ProcessJoinFunction<T1, T2, R>): SingleOutputStreamOperator<R> {
    if (fn === undefined || fn === null) throw new RiffleError("JOB_INVALID_GRAPH", "intervalJoin(...).process needs a ProcessJoinFunction");
    const env = this.left.env;
    const key1 = env.functions[this.left.keySelectorId];
    const key2 = env.functions[this.right.keySelectorId];
    const spec: IntervalJoinSpec = {
      lowerBound: this.lowerBound,
      upperBound: this.upperBound,
      lowerBoundInclusive: this.lowerInclusive,
      upperBoundInclusive: this.upperInclusive,
      leftLateTag: this.leftLateTag,
      rightLateTag: this.rightLateTag,
    };
    return new ConnectedStreams<T1, T2>(env, this.left, this.right).twoInput<R>(() => new IntervalJoinOperator(fn, key1, key2, spec), "Interval Join", true);
  }
}

/** A bound in ms: a number, or a duration string with an optional sign (`"-10s"`). */
function boundMs(value: number | string, which: string): number {
  if (typeof value === "number") return value;
  if (typeof value !== "string") throw new RiffleError("JOB_INVALID_GRAPH", `intervalJoin(...).between: the ${which} bound must be ms or a duration string`);
  const text = value.trim();
  const negative = text.startsWith("-");
  try {
    const ms = parseDuration(negative ? text.slice(1) : text);
    return negative ? -ms : ms;
  } catch (err) {
    throw new RiffleError("JOB_INVALID_GRAPH", `intervalJoin(...).between: the ${which} bound: ${(err as Error).message}`, { cause: err });
  }
}

function tagId(tag: OutputTag<unknown>): string {
  if (!(tag instanceof OutputTag)) throw new RiffleError("JOB_INVALID_GRAPH", "intervalJoin: late data needs an OutputTag");
  return tag.id;
}
