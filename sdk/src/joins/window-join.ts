import { RiffleError } from "@riffle/shared";
import type { DataStream, SingleOutputStreamOperator } from "../api/datastream.js";
import type { Collector, KeySelector } from "../api/functions.js";
import { callable } from "../operators/operator.js";
import type { Duration, Evictor, ProcessWindowContext, ProcessWindowFunction, Trigger, Window, WindowAssigner } from "../windowing/index.js";
import type { CoGroupFunction, FlatJoinFunction, JoinFunction } from "./functions.js";

/**
 * An element of either input of a window join or coGroup, tagged with its input (Flink's
 * TaggedUnion): `[1, left]` or `[2, right]`. Custom triggers and evictors of a join see these.
 */
export type TaggedUnion<T1, T2> = readonly [1, T1] | readonly [2, T2];

/** The user function hooks that the adapters pass on (open/close, checkpoint hooks). */
const HOOKS = ["open", "close", "initializeState", "snapshotState", "notifyCheckpointComplete", "notifyCheckpointAborted"] as const;

function keySelector<T, K>(key: KeySelector<T, K>, where: string): KeySelector<T, K> {
  if (typeof key !== "function") throw new RiffleError("JOB_INVALID_GRAPH", `${where} needs a key selector function`);
  return key;
}

/**
 * The settings of a windowed two-input operation, shared by join and coGroup: both inputs, their key
 * selectors, the window assigner and the optional trigger, evictor and allowed lateness.
 */
abstract class WithWindowBase<T1, T2, K, W extends Window> {
  private customTrigger: Trigger<TaggedUnion<T1, T2>, W> | undefined;
  private customEvictor: Evictor<TaggedUnion<T1, T2>, W> | undefined;
  private lateness: Duration | undefined;

  /** @internal */
  constructor(
    private readonly input1: DataStream<T1>,
    private readonly input2: DataStream<T2>,
    private readonly key1: KeySelector<T1, K>,
    private readonly key2: KeySelector<T2, K>,
    private readonly assigner: WindowAssigner<TaggedUnion<T1, T2>, W>,
  ) {}

  /** Replaces the assigner's default trigger. */
  trigger(trigger: Trigger<TaggedUnion<T1, T2>, W>): this {
    this.customTrigger = trigger;
    return this;
  }

  /** Evicts elements of both inputs before or after each evaluation. */
  evictor(evictor: Evictor<TaggedUnion<T1, T2>, W>): this {
    this.customEvictor = evictor;
    return this;
  }

  /** Keeps windows this long after the watermark passed their end; late elements fire them again. */
  allowedLateness(lateness: Duration): this {
    this.lateness = lateness;
    return this;
  }

  /**
   * Flink's plan: tag the elements of each input, union them, key the union by the key of each
   * element's input, cut it into windows, and hand each window's elements, split by input, to
   * `coGroup`. Results carry the window's maxTimestamp.
   */
  protected build<R>(coGroup: (first: unknown[], second: unknown[], out: Collector<R>) => void, userFunction: unknown): SingleOutputStreamOperator<R> {
    if (this.input1.env !== this.input2.env) throw new RiffleError("JOB_INVALID_GRAPH", "join/coGroup: both streams must belong to the same environment");
    const key1 = this.key1;
    const key2 = this.key2;
    const tagged1 = this.input1.map((v: T1): TaggedUnion<T1, T2> => [1, v]);
    const tagged2 = this.input2.map((v: T2): TaggedUnion<T1, T2> => [2, v]);
    const keyed = tagged1.union(tagged2).keyBy((t: TaggedUnion<T1, T2>): K => (t[0] === 1 ? key1(t[1]) : key2(t[1])));
    const windowed = keyed.window<W>(this.assigner);
    if (this.customTrigger !== undefined) windowed.trigger(this.customTrigger);
    if (this.customEvictor !== undefined) windowed.evictor(this.customEvictor);
    if (this.lateness !== undefined) windowed.allowedLateness(this.lateness);
    const adapter: Record<string, unknown> = {
      process(_key: K, _ctx: ProcessWindowContext<W>, elements: TaggedUnion<T1, T2>[], out: Collector<R>): void {
        const first: unknown[] = [];
        const second: unknown[] = [];
        for (const e of elements) (e[0] === 1 ? first : second).push(e[1]);
        coGroup(first, second, out);
      },
    };
    if (userFunction !== null && typeof userFunction === "object") {
      for (const hook of HOOKS) {
        const f = (userFunction as Record<string, unknown>)[hook];
        if (typeof f === "function") adapter[hook] = f.bind(userFunction);
      }
    }
    return windowed.process<R>(adapter as unknown as ProcessWindowFunction<TaggedUnion<T1, T2>, R, K, W>);
  }
}

// ---------------------------------------------------------------------------------------------
// join
// ---------------------------------------------------------------------------------------------

/**
 * Two streams to join by key within windows (Flink's JoinedStreams): every pair of a left and a right
 * element with equal keys in the same window is joined. Start with {@link DataStream.join}:
 *
 * ```ts
 * orders.join(payments)
 *   .where((o) => o.orderId)
 *   .equalTo((p) => p.orderId)
 *   .window(TumblingEventTimeWindows.of(Time.minutes(5)))
 *   .apply((order, payment) => ({ ...order, paidAt: payment.time }));
 * ```
 */
export class JoinedStreams<T1, T2> {
  /** @internal */
  constructor(
    private readonly input1: DataStream<T1>,
    private readonly input2: DataStream<T2>,
  ) {}

  /** The key of the first input. */
  where<K>(key: KeySelector<T1, K>): JoinWhere<T1, T2, K> {
    return new JoinWhere<T1, T2, K>(this.input1, this.input2, keySelector(key, "join(...).where"));
  }
}

export class JoinWhere<T1, T2, K> {
  /** @internal */
  constructor(
    private readonly input1: DataStream<T1>,
    private readonly input2: DataStream<T2>,
    private readonly key1: KeySelector<T1, K>,
  ) {}

  /** The key of the second input: elements pair when the keys are equal. */
  equalTo(key: KeySelector<T2, K>): JoinEqualTo<T1, T2, K> {
    return new JoinEqualTo<T1, T2, K>(this.input1, this.input2, this.key1, keySelector(key, "join(...).equalTo"));
  }
}

export class JoinEqualTo<T1, T2, K> {
  /** @internal */
  constructor(
    private readonly input1: DataStream<T1>,
    private readonly input2: DataStream<T2>,
    private readonly key1: KeySelector<T1, K>,
    private readonly key2: KeySelector<T2, K>,
  ) {}

  /** The windows both inputs are cut into, e.g. `TumblingEventTimeWindows.of(60_000)`. */
  window<W extends Window>(assigner: WindowAssigner<TaggedUnion<T1, T2>, W>): JoinWithWindow<T1, T2, K, W> {
    return new JoinWithWindow<T1, T2, K, W>(this.input1, this.input2, this.key1, this.key2, assigner);
  }
}

/** A window join ready for its function (Flink's JoinedStreams.WithWindow). */
export class JoinWithWindow<T1, T2, K, W extends Window> extends WithWindowBase<T1, T2, K, W> {
  /**
   * Joins every pair of a window. A function of two parameters `(first, second)` is a JoinFunction:
   * its return value is the result. One of three `(first, second, out)` is a FlatJoinFunction: it
   * emits any number of results through `out`. Results carry the window's maxTimestamp.
   */
  apply<R>(fn: JoinFunction<T1, T2, R>): SingleOutputStreamOperator<R>;
  apply<R>(fn: FlatJoinFunction<T1, T2, R>): SingleOutputStreamOperator<R>;
  apply<R>(fn: JoinFunction<T1, T2, R> | FlatJoinFunction<T1, T2, R>): SingleOutputStreamOperator<R> {
    const join = callable<(a: unknown, b: unknown, out?: Collector<R>) => unknown>(fn, "join", "a join function");
    const flat = join.length >= 3;
    return this.build<R>((first, second, out) => {
      for (let i = 0; i < first.length; i++) {
        for (let j = 0; j < second.length; j++) {
          if (flat) join(first[i], second[j], out);
          else out.collect(join(first[i], second[j]) as R);
        }
      }
    }, fn);
  }
}

// ---------------------------------------------------------------------------------------------
// coGroup
// ---------------------------------------------------------------------------------------------

/**
 * Two streams to group together by key within windows (Flink's CoGroupedStreams): for every key and
 * window, the function gets all elements of both inputs (one side may be empty). Start with
 * {@link DataStream.coGroup}:
 *
 * ```ts
 * views.coGroup(clicks)
 *   .where((v) => v.ad)
 *   .equalTo((c) => c.ad)
 *   .window(TumblingEventTimeWindows.of(Time.minutes(1)))
 *   .apply((vs, cs, out) => out.collect({ ad: (vs[0] ?? cs[0])!.ad, ctr: cs.length / Math.max(1, vs.length) }));
 * ```
 */
export class CoGroupedStreams<T1, T2> {
  /** @internal */
  constructor(
    private readonly input1: DataStream<T1>,
    private readonly input2: DataStream<T2>,
  ) {}

  where<K>(key: KeySelector<T1, K>): CoGroupWhere<T1, T2, K> {
    return new CoGroupWhere<T1, T2, K>(this.input1, this.input2, keySelector(key, "coGroup(...).where"));
  }
}

export class CoGroupWhere<T1, T2, K> {
  /** @internal */
  constructor(
    private readonly input1: DataStream<T1>,
    private readonly input2: DataStream<T2>,
    private readonly key1: KeySelector<T1, K>,
  ) {}

  equalTo(key: KeySelector<T2, K>): CoGroupEqualTo<T1, T2, K> {
    return new CoGroupEqualTo<T1, T2, K>(this.input1, this.input2, this.key1, keySelector(key, "coGroup(...).equalTo"));
  }
}

export class CoGroupEqualTo<T1, T2, K> {
  /** @internal */
  constructor(
    private readonly input1: DataStream<T1>,
    private readonly input2: DataStream<T2>,
    private readonly key1: KeySelector<T1, K>,
    private readonly key2: KeySelector<T2, K>,
  ) {}

  window<W extends Window>(assigner: WindowAssigner<TaggedUnion<T1, T2>, W>): CoGroupWithWindow<T1, T2, K, W> {
    return new CoGroupWithWindow<T1, T2, K, W>(this.input1, this.input2, this.key1, this.key2, assigner);
  }
}

/** A windowed coGroup ready for its function (Flink's CoGroupedStreams.WithWindow). */
export class CoGroupWithWindow<T1, T2, K, W extends Window> extends WithWindowBase<T1, T2, K, W> {
  /** Calls `fn` once per key and window with the elements of both inputs; results carry the window's maxTimestamp. */
  apply<R>(fn: CoGroupFunction<T1, T2, R>): SingleOutputStreamOperator<R> {
    const coGroup = callable<(a: unknown[], b: unknown[], out: Collector<R>) => void>(fn, "coGroup", "a coGroup function");
    return this.build<R>(coGroup, fn);
  }
}
