import { RiffleError } from "@riffle/shared";
import { ConnectedStreams } from "../api/connected-streams.js";
import { type DataStream, KeyedStream, type SingleOutputStreamOperator } from "../api/datastream.js";
import type { StreamExecutionEnvironment } from "../api/environment.js";
import { MapStateDescriptor } from "../state/descriptors.js";
import { BroadcastProcessOperator, KeyedBroadcastProcessOperator } from "./broadcast-operators.js";
import type { BroadcastProcessFunction, KeyedBroadcastProcessFunction } from "./functions.js";

/**
 * A stream whose every element reaches every subtask of the operator it is connected to, together
 * with the broadcast states that operator keeps (Flink's BroadcastStream). Made by
 * `stream.broadcast(descriptor, ...)`; use it with `other.connect(broadcastStream)`.
 *
 * ```ts
 * const rulesDesc = new MapStateDescriptor<string, Rule>("rules");
 * const rules = ruleStream.broadcast(rulesDesc);
 * events.keyBy((e) => e.user).connect(rules).process({
 *   processElement(e, ctx, out) {
 *     for (const rule of ctx.getBroadcastState(rulesDesc).values()) if (rule.matches(e)) out.collect({ rule: rule.name, e });
 *   },
 *   processBroadcastElement(rule, ctx) {
 *     ctx.getBroadcastState(rulesDesc).put(rule.name, rule);
 *   },
 * });
 * ```
 */
export class BroadcastStream<T> {
  /** @internal */
  constructor(
    /** @internal */ readonly env: StreamExecutionEnvironment,
    /** @internal the input, partitioned by `broadcast` */ readonly stream: DataStream<T>,
    /** @internal */ readonly descriptors: readonly MapStateDescriptor<unknown, unknown>[],
  ) {
    if (descriptors.length === 0) throw new RiffleError("JOB_INVALID_GRAPH", "broadcast(...) needs at least one MapStateDescriptor for the broadcast state");
    const names = new Set<string>();
    for (const d of descriptors) {
      if (!(d instanceof MapStateDescriptor)) throw new RiffleError("JOB_INVALID_GRAPH", "broadcast state is described by MapStateDescriptors only");
      if (names.has(d.name)) throw new RiffleError("JOB_INVALID_GRAPH", `broadcast(...): two descriptors are named '${d.name}'`);
      names.add(d.name);
    }
  }
}

/**
 * A (keyed or non-keyed) stream connected with a broadcast stream (Flink's BroadcastConnectedStream).
 * `process` takes a KeyedBroadcastProcessFunction when the first stream is keyed, a
 * BroadcastProcessFunction otherwise.
 */
export class BroadcastConnectedStream<IN1, IN2> {
  /** @internal */
  constructor(
    private readonly env: StreamExecutionEnvironment,
    private readonly nonBroadcast: DataStream<IN1>,
    private readonly broadcast: BroadcastStream<IN2>,
  ) {
    if (nonBroadcast.env !== broadcast.env) throw new RiffleError("JOB_INVALID_GRAPH", "connect: both streams must belong to the same environment");
  }

  /**
   * Runs `fn` over both inputs: `processElement` for the elements of the first stream (reading the
   * broadcast state), `processBroadcastElement` for every broadcast element on every subtask
   * (changing it). On a keyed stream, `processElement` also has keyed state and timers.
   */
  process<R>(fn: KeyedBroadcastProcessFunction<unknown, IN1, IN2, R> | BroadcastProcessFunction<IN1, IN2, R>): SingleOutputStreamOperator<R> {
    for (const method of ["processElement", "processBroadcastElement"]) {
      if (typeof (fn as unknown as Record<string, unknown> | null)?.[method] !== "function")
        throw new RiffleError("JOB_INVALID_GRAPH", `connect(broadcastStream).process needs a broadcast process function with a ${method}() method`);
    }
    const descriptors = this.broadcast.descriptors;
    const connected = new ConnectedStreams<IN1, IN2>(this.env, this.nonBroadcast, this.broadcast.stream);
    if (this.nonBroadcast instanceof KeyedStream) {
      const key = this.env.functions[this.nonBroadcast.keySelectorId];
      return connected.twoInput<R>(() => new KeyedBroadcastProcessOperator(fn, key, descriptors), "Co-Process-Broadcast-Keyed", true);
    }
    return connected.twoInput<R>(() => new BroadcastProcessOperator(fn, descriptors), "Co-Process-Broadcast", false);
  }
}
