import { RiffleError, type Partitioner } from "@riffle/shared";
import type { StreamExecutionEnvironment } from "./environment.js";
import type { Transformation } from "./transformation.js";
import type { FilterFunction, FlatMapFunction, KeyedProcessFunction, KeySelector, MapFunction, ProcessFunction, ReduceFunction } from "./functions.js";
import type { Sink } from "./sink.js";
import { ConnectedStreams } from "./connected-streams.js";
import { OutputTag } from "./output-tag.js";
import { WatermarkStrategy } from "../time/watermark-strategy.js";
import { TimestampsAndWatermarksOperator } from "../operators/timestamps-and-watermarks.js";
import { PrintSink } from "../connectors/print.js";
import { FileSink } from "../connectors/file-sink.js";
import { CollectSink } from "../connectors/collect.js";
import { ExactlyOnceFileSink } from "../connectors/exactly-once-file-sink.js";
import { AllWindowedStream, WindowedStream, countWindow, countWindowAll } from "../windowing/windowed-stream.js";
import type { WindowAssigner } from "../windowing/assigners.js";
import type { GlobalWindow, Window } from "../windowing/windows.js";
import type { MapStateDescriptor } from "../state/descriptors.js";
import { BroadcastConnectedStream, BroadcastStream, CoGroupedStreams, IntervalJoin, JoinedStreams } from "../joins/index.js";

/** A stream of records of type T. Every method returns a new stream; nothing runs until the job is submitted. */
export class DataStream<T> {
  /** @internal */
  constructor(
    /** @internal */ readonly env: StreamExecutionEnvironment,
    /** @internal */ readonly transformation: Transformation,
  ) {}

  map<R>(fn: MapFunction<T, R>): SingleOutputStreamOperator<R> {
    return this.operator<R>("map", fn, "Map");
  }

  filter(fn: FilterFunction<T>): SingleOutputStreamOperator<T> {
    return this.operator<T>("filter", fn, "Filter");
  }

  flatMap<R>(fn: FlatMapFunction<T, R>): SingleOutputStreamOperator<R> {
    return this.operator<R>("flatMap", fn, "FlatMap");
  }

  process<R>(fn: ProcessFunction<T, R>): SingleOutputStreamOperator<R> {
    return this.operator<R>("process", fn, "Process");
  }

  /** Partitions by key: records with the same key go to the same subtask (by key group). */
  keyBy<K>(key: KeySelector<T, K> | (keyof T & string)): KeyedStream<T, K> {
    const selector: KeySelector<T, K> = typeof key === "function" ? key : (v: T) => (v as Record<string, unknown>)[key] as K;
    if (typeof selector !== "function") throw new RiffleError("JOB_INVALID_GRAPH", "keyBy needs a key selector function or a field name");
    const keyId = this.env.registerFunction(selector);
    const t = this.env.addVirtual({ type: "partition", name: "keyBy", inputs: [this.transformation], partitioner: "hash", keySelector: keyId });
    return new KeyedStream<T, K>(this.env, t, keyId);
  }

  /**
   * Gives records event-time timestamps and generates watermarks from them (Flink's
   * assignTimestampsAndWatermarks). Prefer a strategy on the source (`env.fromSource`), which
   * generates watermarks per split.
   */
  assignTimestampsAndWatermarks(strategy: WatermarkStrategy<T>): SingleOutputStreamOperator<T> {
    if (!(strategy instanceof WatermarkStrategy)) throw new RiffleError("JOB_INVALID_GRAPH", "assignTimestampsAndWatermarks needs a WatermarkStrategy");
    const s = strategy as WatermarkStrategy<unknown>;
    const t = this.env.addOperator("operator", () => new TimestampsAndWatermarksOperator(s), [this.transformation], "Timestamps/Watermarks");
    return new SingleOutputStreamOperator<T>(this.env, t);
  }

  /**
   * Connects another stream (of any type) for a two-input operator: process, map or flatMap over both.
   * Connecting a BroadcastStream (`other.broadcast(descriptor)`) gives the broadcast state pattern.
   */
  connect<R>(other: DataStream<R>): ConnectedStreams<T, R>;
  connect<R>(other: BroadcastStream<R>): BroadcastConnectedStream<T, R>;
  connect<R>(other: DataStream<R> | BroadcastStream<R>): ConnectedStreams<T, R> | BroadcastConnectedStream<T, R> {
    if (other instanceof BroadcastStream) return new BroadcastConnectedStream<T, R>(this.env, this, other);
    return new ConnectedStreams<T, R>(this.env, this, other);
  }

  /** Joins with another stream by key within windows: `join(other).where(k1).equalTo(k2).window(assigner).apply(fn)`. */
  join<T2>(other: DataStream<T2>): JoinedStreams<T, T2> {
    return new JoinedStreams<T, T2>(this, other);
  }

  /** Groups with another stream by key within windows: `coGroup(other).where(k1).equalTo(k2).window(assigner).apply(fn)`. */
  coGroup<T2>(other: DataStream<T2>): CoGroupedStreams<T, T2> {
    return new CoGroupedStreams<T, T2>(this, other);
  }

  /** Merges streams of the same type. */
  union(...others: DataStream<T>[]): DataStream<T> {
    const t = this.env.addVirtual({ type: "union", name: "Union", inputs: [this.transformation, ...others.map((o) => o.transformation)] });
    return new DataStream<T>(this.env, t);
  }

  /** Round-robin over all downstream subtasks. */
  rebalance(): DataStream<T> {
    return this.partition("rebalance");
  }

  /** Round-robin over a local subset of downstream subtasks (pointwise). */
  rescale(): DataStream<T> {
    return this.partition("rescale");
  }

  /**
   * Every record to every downstream subtask. With descriptors, a BroadcastStream whose operator keeps
   * these broadcast states (Flink's broadcast state pattern): `other.connect(this.broadcast(desc))`.
   */
  broadcast(): DataStream<T>;
  broadcast(...descriptors: [MapStateDescriptor<unknown, unknown>, ...MapStateDescriptor<unknown, unknown>[]]): BroadcastStream<T>;
  broadcast(...descriptors: MapStateDescriptor<unknown, unknown>[]): DataStream<T> | BroadcastStream<T> {
    const partitioned = this.partition("broadcast");
    return descriptors.length === 0 ? partitioned : new BroadcastStream<T>(this.env, partitioned, descriptors);
  }

  /** Uniformly random downstream subtask (seeded per subtask, so runs are repeatable). */
  shuffle(): DataStream<T> {
    return this.partition("shuffle");
  }

  /** Subtask i to subtask i; requires equal parallelism, and lets the operators chain. */
  forward(): DataStream<T> {
    return this.partition("forward");
  }

  /**
   * A feedback loop in the style of Flink's (pre-2.0) iterations. Riffle runs acyclic dataflows, so
   * a job that closes the loop is refused at submission with JOB_GRAPH_CYCLE.
   */
  iterate(): IterativeStream<T> {
    const t = this.env.addVirtual({ type: "feedback", name: "Iteration", inputs: [this.transformation] });
    return new IterativeStream<T>(this.env, t);
  }

  /** Windows over the whole (non-keyed) stream, evaluated by one subtask (Flink's windowAll). */
  windowAll<W extends Window>(assigner: WindowAssigner<T, W>): AllWindowedStream<T, W> {
    return new AllWindowedStream<T, W>(this, assigner);
  }

  /** Windows of `size` elements of the whole stream, every `slide` elements when given. */
  countWindowAll(size: number, slide?: number): AllWindowedStream<T, GlobalWindow> {
    return countWindowAll(this, size, slide);
  }

  sinkTo(sink: Sink<T>): DataStreamSink<T> {
    const t = this.env.addOperator("sink", sink, [this.transformation], "Sink");
    return new DataStreamSink<T>(t);
  }

  /** Prints every record to the TaskManager's stdout, prefixed `<subtask>> ` when parallel. */
  print(): DataStreamSink<T> {
    return this.sinkTo(new PrintSink<T>()).name("Print to Std. Out");
  }

  /** Writes one line per record into `dir/part-<subtask>` (at-least-once). */
  writeAsText(dir: string): DataStreamSink<T> {
    return this.sinkTo(new FileSink<T>(dir)).name(`File Sink ${dir}`);
  }

  /**
   * Writes one line per record into `dir`, exactly once when the job checkpoints: files become
   * visible (`part-<subtask>-<checkpoint>`) only when the checkpoint that covers them completes.
   */
  writeExactlyOnce(dir: string): DataStreamSink<T> {
    return this.sinkTo(new ExactlyOnceFileSink<T>(dir)).name(`Exactly-once File Sink ${dir}`);
  }

  /** Streams the records back to the client that submitted the job (`riffle run` prints them). */
  collect(): DataStreamSink<T> {
    return this.sinkTo(new CollectSink<T>()).name("Collect Sink");
  }

  private partition(partitioner: Partitioner): DataStream<T> {
    const t = this.env.addVirtual({ type: "partition", name: partitioner, inputs: [this.transformation], partitioner });
    return new DataStream<T>(this.env, t);
  }

  /** @internal */
  protected operator<R>(kind: "map" | "filter" | "flatMap" | "process", fn: unknown, name: string): SingleOutputStreamOperator<R> {
    const t = this.env.addOperator(kind, fn, [this.transformation], name);
    return new SingleOutputStreamOperator<R>(this.env, t);
  }
}

/** Settings shared by operators and sinks: name, uid, parallelism, chaining. */
function configure(t: Transformation) {
  return {
    name(name: string) {
      t.name = name;
    },
    uid(uid: string) {
      if (!uid) throw new RiffleError("JOB_INVALID_GRAPH", "uid must not be empty");
      t.uid = uid;
    },
    setParallelism(p: number) {
      if (!Number.isInteger(p) || p < 1) throw new RiffleError("JOB_INVALID_GRAPH", `${t.name}: parallelism must be a positive integer, got ${p}`);
      if (t.parallelismLimit !== undefined && p > t.parallelismLimit) {
        throw new RiffleError("JOB_INVALID_GRAPH", `${t.name} cannot run with parallelism ${p}: it supports at most ${t.parallelismLimit}`);
      }
      t.parallelism = p;
    },
  };
}

/** A stream produced by one operator: it can be named, given a uid, a parallelism, and chaining hints. */
export class SingleOutputStreamOperator<T> extends DataStream<T> {
  name(name: string): this {
    configure(this.transformation).name(name);
    return this;
  }

  /** A stable id for the operator: state in savepoints is matched to operators by uid. */
  uid(uid: string): this {
    configure(this.transformation).uid(uid);
    return this;
  }

  setParallelism(parallelism: number): this {
    configure(this.transformation).setParallelism(parallelism);
    return this;
  }

  /** Never chain this operator with its neighbours. */
  disableChaining(): this {
    this.transformation.chaining = "never";
    return this;
  }

  /** The records this operator emitted to the side output `tag` (ctx.output(tag, value)). */
  getSideOutput<X>(tag: OutputTag<X>): DataStream<X> {
    if (!(tag instanceof OutputTag)) throw new RiffleError("JOB_INVALID_GRAPH", "getSideOutput needs an OutputTag");
    const t = this.env.addVirtual({ type: "sideOutput", name: `Side Output ${tag.id}`, inputs: [this.transformation], tag: tag.id });
    return new DataStream<X>(this.env, t);
  }

  /** Start a new chain at this operator (it may still chain with the ones after it). */
  startNewChain(): this {
    this.transformation.chaining = "head";
    return this;
  }
}

export class DataStreamSink<T> {
  /** @internal */
  constructor(/** @internal */ readonly transformation: Transformation) {}

  name(name: string): this {
    configure(this.transformation).name(name);
    return this;
  }

  uid(uid: string): this {
    configure(this.transformation).uid(uid);
    return this;
  }

  setParallelism(parallelism: number): this {
    configure(this.transformation).setParallelism(parallelism);
    return this;
  }

  disableChaining(): this {
    this.transformation.chaining = "never";
    return this;
  }

  /** @internal keeps the record type in the signature */
  protected readonly _type?: T;
}

/** Aggregations on a keyed stream keep one value per key (in memory until the state backends land). */
export class KeyedStream<T, K> extends DataStream<T> {
  /** @internal */
  constructor(
    env: StreamExecutionEnvironment,
    transformation: Transformation,
    /** @internal */ readonly keySelectorId: number,
  ) {
    super(env, transformation);
  }

  /** Rolling reduce: emits the updated value for the key after every record. */
  reduce(fn: ReduceFunction<T>): SingleOutputStreamOperator<T> {
    return this.keyed<T>("keyedReduce", fn, "Keyed Reduce");
  }

  /** Rolling sum of a numeric field (or of the record itself when it is a number). */
  sum(field?: (keyof T & string) | number): SingleOutputStreamOperator<T> {
    return this.aggregate("sum", field);
  }

  /** Rolling minimum of a field; the other fields are those of the key's first record. */
  min(field?: (keyof T & string) | number): SingleOutputStreamOperator<T> {
    return this.aggregate("min", field);
  }

  max(field?: (keyof T & string) | number): SingleOutputStreamOperator<T> {
    return this.aggregate("max", field);
  }

  /** The whole record with the smallest value of the field so far. */
  minBy(field: (keyof T & string) | number): SingleOutputStreamOperator<T> {
    return this.aggregate("minBy", field);
  }

  maxBy(field: (keyof T & string) | number): SingleOutputStreamOperator<T> {
    return this.aggregate("maxBy", field);
  }

  override process<R>(fn: KeyedProcessFunction<K, T, R> | ProcessFunction<T, R>): SingleOutputStreamOperator<R> {
    return this.keyed<R>("keyedProcess", fn, "Keyed Process");
  }

  /** Joins with another keyed stream on event time: pairs of the same key within an interval (`between`). */
  intervalJoin<T2>(other: KeyedStream<T2, K>): IntervalJoin<T, T2, K> {
    return new IntervalJoin<T, T2, K>(this, other);
  }

  /** Cuts each key's records into windows (tumbling, sliding, session, global); see WindowedStream. */
  window<W extends Window>(assigner: WindowAssigner<T, W>): WindowedStream<T, K, W> {
    return new WindowedStream<T, K, W>(this, assigner);
  }

  /** Windows of `size` records per key, every `slide` records when given (Flink's countWindow). */
  countWindow(size: number, slide?: number): WindowedStream<T, K, GlobalWindow> {
    return countWindow(this, size, slide);
  }

  private aggregate(type: "sum" | "min" | "max" | "minBy" | "maxBy", field: string | number | undefined): SingleOutputStreamOperator<T> {
    const t = this.env.addOperator("keyedAggregate", { type, field: field ?? null }, [this.transformation], `Keyed ${type}`, {
      key: this.keySelectorId,
      aggregate: { type, field: field ?? null },
    });
    return new SingleOutputStreamOperator<T>(this.env, t);
  }

  private keyed<R>(kind: "keyedReduce" | "keyedProcess", fn: unknown, name: string): SingleOutputStreamOperator<R> {
    const t = this.env.addOperator(kind, fn, [this.transformation], name, { key: this.keySelectorId });
    return new SingleOutputStreamOperator<R>(this.env, t);
  }
}

/** The head of a feedback loop; see {@link DataStream.iterate}. */
export class IterativeStream<T> extends DataStream<T> {
  /** Feeds `feedback` back into the head of the iteration: makes the graph cyclic. */
  closeWith(feedback: DataStream<T>): DataStream<T> {
    (this.transformation.inputs as Transformation[]).push(feedback.transformation);
    return feedback;
  }
}
