import { RiffleError } from "@riffle/shared";
import type { StreamOperator } from "../operators/operator.js";
import { CoProcessOperator, KeyedCoProcessOperator } from "../operators/co-process.js";
import type { StreamExecutionEnvironment } from "./environment.js";
import type { CoFlatMapFunction, CoMapFunction, CoProcessFunction, KeyedCoProcessFunction, KeySelector, RichFunction } from "./functions.js";
import { type DataStream, SingleOutputStreamOperator } from "./datastream.js";

/**
 * Two streams connected for a two-input operator (Flink's ConnectedStreams): records of each input
 * keep their own type; the operator sees both, with state shared between them. The inputs' barriers
 * are aligned like those of any task with several inputs, and the operator's watermark is the
 * minimum of both inputs'.
 */
export class ConnectedStreams<IN1, IN2> {
  /** @internal */
  constructor(
    /** @internal */ readonly env: StreamExecutionEnvironment,
    /** @internal */ readonly first: DataStream<IN1>,
    /** @internal */ readonly second: DataStream<IN2>,
    /** @internal */ readonly keys?: { first: number; second: number },
  ) {}

  /** Partitions both inputs by key, so records of the same key meet in one subtask. */
  keyBy<K>(key1: KeySelector<IN1, K>, key2: KeySelector<IN2, K>): ConnectedStreams<IN1, IN2> {
    if (typeof key1 !== "function" || typeof key2 !== "function")
      throw new RiffleError("JOB_INVALID_GRAPH", "connect(...).keyBy needs two key selector functions");
    const first = this.first.keyBy(key1);
    const second = this.second.keyBy(key2);
    return new ConnectedStreams<IN1, IN2>(this.env, first, second, { first: first.keySelectorId, second: second.keySelectorId });
  }

  process<R>(fn: CoProcessFunction<IN1, IN2, R> | KeyedCoProcessFunction<unknown, IN1, IN2, R>): SingleOutputStreamOperator<R> {
    const keys = this.keys;
    if (keys) {
      const k1 = this.env.functions[keys.first];
      const k2 = this.env.functions[keys.second];
      return this.twoInput<R>(() => new KeyedCoProcessOperator(fn, k1, k2), "Keyed Co-Process", true);
    }
    return this.twoInput<R>(() => new CoProcessOperator(fn), "Co-Process", false);
  }

  map<R>(fn: CoMapFunction<IN1, IN2, R>): SingleOutputStreamOperator<R> {
    const adapter = withHooks(fn, {
      processElement1: (v: IN1, _ctx: unknown, out: { collect(r: R): void }) => out.collect(fn.map1(v)),
      processElement2: (v: IN2, _ctx: unknown, out: { collect(r: R): void }) => out.collect(fn.map2(v)),
    });
    return this.twoInput<R>(() => new CoProcessOperator(adapter), "Co-Map", false);
  }

  flatMap<R>(fn: CoFlatMapFunction<IN1, IN2, R>): SingleOutputStreamOperator<R> {
    const adapter = withHooks(fn, {
      processElement1: (v: IN1, _ctx: unknown, out: { collect(r: R): void }) => fn.flatMap1(v, out),
      processElement2: (v: IN2, _ctx: unknown, out: { collect(r: R): void }) => fn.flatMap2(v, out),
    });
    return this.twoInput<R>(() => new CoProcessOperator(adapter), "Co-FlatMap", false);
  }

  /** @internal adds a two-input operator built by `factory` in each subtask. */
  twoInput<R>(factory: () => StreamOperator, name: string, keyed: boolean): SingleOutputStreamOperator<R> {
    const t = this.env.addOperator("operator", factory, [this.first.transformation, this.second.transformation], name, {
      keyed,
      inputTypes: [1, 2],
    });
    return new SingleOutputStreamOperator<R>(this.env, t);
  }
}

/** An adapter object that keeps the user function's open/close and checkpoint hooks. */
function withHooks<T extends object>(fn: RichFunction, methods: T): T & RichFunction {
  const hooks = fn as Record<string, unknown>;
  const bind = (name: string) => (typeof hooks[name] === "function" ? (hooks[name] as (...a: unknown[]) => unknown).bind(fn) : undefined);
  const out = { ...methods } as Record<string, unknown>;
  for (const name of ["open", "close", "initializeState", "snapshotState", "notifyCheckpointComplete", "notifyCheckpointAborted"]) {
    const f = bind(name);
    if (f) out[name] = f;
  }
  return out as T & RichFunction;
}
