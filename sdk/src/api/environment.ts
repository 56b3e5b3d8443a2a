import { WatermarkStrategy } from "../time/watermark-strategy.js";
import { RiffleError, type CheckpointSettings, type OperatorKind, type RestartStrategy, type StateBackendName } from "@riffle/shared";
import type { Transformation } from "./transformation.js";
import type { Source } from "./source.js";
import { SingleOutputStreamOperator } from "./datastream.js";
import { CollectionSource } from "../connectors/collection.js";
import { DatagenSource, type DatagenOptions } from "../connectors/datagen.js";
import { TextFileSource } from "../connectors/text-file.js";

/** How the environment is being used: building the graph on the JobManager, or running on a TaskManager. */
export type EnvironmentMode = "plan" | "run";

/**
 * The entry point of a job: a job module's default export receives one and builds the pipeline.
 *
 * ```ts
 * export default function wordCount(env: StreamExecutionEnvironment) {
 *   env.setParallelism(2);
 *   env.readTextFile(env.param("input"))
 *     .flatMap((line: string) => line.toLowerCase().split(/\W+/).filter(Boolean))
 *     .map((word) => ({ word, count: 1 }))
 *     .keyBy((wc) => wc.word)
 *     .sum("count")
 *     .collect();
 * }
 * ```
 */
export class StreamExecutionEnvironment {
  /** @internal */ readonly transformations: Transformation[] = [];
  /** @internal the function table: user functions, sources and sinks in declaration order. */
  readonly functions: unknown[] = [];
  private parallelism: number | undefined;
  private maxParallelism: number | undefined;
  private bufferTimeoutMs: number | undefined;
  private autoWatermarkIntervalMs: number | undefined;
  private jobName: string | undefined;
  private checkpointing: CheckpointSettings | undefined;
  private restartStrategy: RestartStrategy | undefined;
  private stateBackend: StateBackendName | undefined;
  private autoscaler: Record<string, string | number | boolean> | undefined;

  /** @internal */
  constructor(
    readonly mode: EnvironmentMode,
    /** Job arguments given after the job file on `riffle run`. */
    readonly args: readonly string[] = [],
  ) {}

  /** Default parallelism of every operator that sets none. */
  setParallelism(parallelism: number): this {
    this.parallelism = positiveInt(parallelism, "parallelism");
    return this;
  }

  getParallelism(): number | undefined {
    return this.parallelism;
  }

  /** Number of key groups: the upper bound of any keyed operator's parallelism, fixed for the job's life. */
  setMaxParallelism(maxParallelism: number): this {
    this.maxParallelism = positiveInt(maxParallelism, "max parallelism");
    if (maxParallelism > 32768) throw new RiffleError("JOB_INVALID_GRAPH", `max parallelism ${maxParallelism} is above the limit of 32768`);
    return this;
  }

  getMaxParallelism(): number | undefined {
    return this.maxParallelism;
  }

  /**
   * Longest time (ms) a record waits in a partly filled network buffer before it is sent. 0 sends
   * as soon as the task has nothing else to do (lowest latency); larger values batch more.
   */
  setBufferTimeout(ms: number): this {
    if (!Number.isFinite(ms) || ms < 0) throw new RiffleError("JOB_INVALID_GRAPH", `buffer timeout must be >= 0 ms, got ${ms}`);
    this.bufferTimeoutMs = ms;
    return this;
  }

  getBufferTimeout(): number | undefined {
    return this.bufferTimeoutMs;
  }

  /**
   * How often periodic watermark generators (bounded out-of-orderness, idleness) run, in ms. 0 turns
   * periodic watermarks off. Unset, the cluster's `pipeline.auto-watermark-interval` applies (default 200).
   */
  setAutoWatermarkInterval(ms: number): this {
    if (!Number.isFinite(ms) || ms < 0) throw new RiffleError("JOB_INVALID_GRAPH", `auto watermark interval must be >= 0 ms, got ${ms}`);
    this.autoWatermarkIntervalMs = ms;
    return this;
  }

  /** The interval set by the job; undefined leaves it to the cluster's `pipeline.auto-watermark-interval`. */
  getAutoWatermarkInterval(): number | undefined {
    return this.autoWatermarkIntervalMs;
  }

  /**
   * Takes a consistent checkpoint of all state every `intervalMs` (Chandy-Lamport barriers, as in
   * Flink), from which the job recovers exactly-once after a failure.
   */
  enableCheckpointing(intervalMs: number, options: Omit<CheckpointSettings, "intervalMs"> = {}): this {
    if (!Number.isFinite(intervalMs) || intervalMs < 10)
      throw new RiffleError("JOB_INVALID_GRAPH", `checkpoint interval must be at least 10 ms, got ${intervalMs}`);
    this.checkpointing = { intervalMs, ...options };
    return this;
  }

  getCheckpointing(): CheckpointSettings | undefined {
    return this.checkpointing;
  }

  /** How the job restarts after a failure; without one, checkpointed jobs back off exponentially and others fail. */
  setRestartStrategy(strategy: RestartStrategy): this {
    this.restartStrategy = strategy;
    return this;
  }

  getRestartStrategy(): RestartStrategy | undefined {
    return this.restartStrategy;
  }

  /** Where keyed state lives: `memory` or `leveldb`; without one, the cluster's state.backend. */
  setStateBackend(backend: StateBackendName): this {
    if (backend !== "memory" && backend !== "leveldb")
      throw new RiffleError("JOB_INVALID_GRAPH", `unknown state backend "${backend}": use "memory" or "leveldb"`);
    this.stateBackend = backend;
    return this;
  }

  getStateBackend(): StateBackendName | undefined {
    return this.stateBackend;
  }

  /**
   * Lets the JobManager's autoscaler rescale this job, vertex by vertex, from the back-pressure and
   * rates it measures (Flink's autoscaler, after DS2). `settings` are `job.autoscaler.*` keys of the
   * cluster's configuration that this job sets for itself, e.g.
   * `env.enableAutoscaling({ "job.autoscaler.target.utilization": 0.6, "job.autoscaler.vertex.max-parallelism": 8 })`;
   * `"job.autoscaler.scaling.enabled": false` only recommends (dry run). Rescales go through a
   * savepoint, so the job must enable checkpointing; the JobManager refuses it otherwise.
   */
  enableAutoscaling(settings: Record<string, string | number | boolean> = {}): this {
    for (const key of Object.keys(settings)) {
      if (!key.startsWith("job.autoscaler.")) {
        throw new RiffleError("JOB_INVALID_GRAPH", `enableAutoscaling: "${key}" is not an autoscaler setting; their keys start with "job.autoscaler."`);
      }
    }
    this.autoscaler = { "job.autoscaler.enabled": true, ...settings };
    return this;
  }

  /** The job's own autoscaler settings (`job.autoscaler.*`), if it set any. */
  getAutoscaler(): Record<string, string | number | boolean> | undefined {
    return this.autoscaler;
  }

  setJobName(name: string): this {
    this.jobName = name;
    return this;
  }

  getJobName(): string | undefined {
    return this.jobName;
  }

  /** The value after `--name` in the job arguments, or `fallback`; throws when missing without one. */
  param(name: string, fallback?: string): string {
    const idx = this.args.indexOf(`--${name}`);
    const value = idx >= 0 ? this.args[idx + 1] : undefined;
    if (value !== undefined) return value;
    if (fallback !== undefined) return fallback;
    throw new RiffleError("JOB_PLAN_FAILED", `the job needs the argument --${name} <value>`);
  }

  /** A bounded stream of the given elements (parallelism 1, as in Flink). */
  fromElements<T>(...elements: T[]): SingleOutputStreamOperator<T> {
    return this.fromSource(new CollectionSource(elements), "Collection Source");
  }

  fromCollection<T>(elements: Iterable<T>): SingleOutputStreamOperator<T> {
    return this.fromSource(new CollectionSource([...elements]), "Collection Source");
  }

  /** Deterministic generated records: bounded with `count`, rate-limited with `ratePerSecond`. */
  datagen<T>(options: DatagenOptions<T>): SingleOutputStreamOperator<T> {
    return this.fromSource(new DatagenSource(options), "Datagen Source");
  }

  /** Lines of a text file, read in parallel by byte ranges. */
  readTextFile(path: string): SingleOutputStreamOperator<string> {
    return this.fromSource(new TextFileSource(path), `Text File ${path}`);
  }

  /**
   * A stream from a Source. With a WatermarkStrategy (Flink's `fromSource(source, strategy, name)`),
   * records get timestamps from its assigner and watermarks are generated per source split.
   */
  fromSource<T>(source: Source<T>, name?: string): SingleOutputStreamOperator<T>;
  fromSource<T>(source: Source<T>, watermarks: WatermarkStrategy<T>, name?: string): SingleOutputStreamOperator<T>;
  fromSource<T>(source: Source<T>, strategyOrName?: WatermarkStrategy<T> | string, maybeName?: string): SingleOutputStreamOperator<T> {
    const strategy = strategyOrName instanceof WatermarkStrategy ? strategyOrName : undefined;
    const name = (typeof strategyOrName === "string" ? strategyOrName : maybeName) ?? "Source";
    if (strategyOrName !== undefined && strategy === undefined && typeof strategyOrName !== "string") {
      throw new RiffleError("JOB_INVALID_GRAPH", "fromSource: the second argument must be a WatermarkStrategy or a name");
    }
    const t = this.addOperator("source", source, [], name, strategy ? { watermarks: this.registerFunction(strategy) } : {});
    t.parallelismLimit = source.maxParallelism;
    if (source.maxParallelism !== undefined) t.parallelism = Math.min(source.maxParallelism, this.parallelism ?? source.maxParallelism);
    return new SingleOutputStreamOperator<T>(this, t);
  }

  /** @internal */
  registerFunction(fn: unknown): number {
    this.functions.push(fn);
    return this.functions.length - 1;
  }

  /** @internal */
  addOperator(
    kind: OperatorKind,
    fn: unknown,
    inputs: Transformation[],
    name: string,
    extra: {
      key?: number;
      keyed?: boolean;
      watermarks?: number;
      aggregate?: NonNullable<Transformation["operator"]>["aggregate"];
      inputTypes?: (1 | 2)[];
    } = {},
  ): Transformation {
    if (fn === undefined || fn === null) throw new RiffleError("JOB_INVALID_GRAPH", `${name}: the function is missing`);
    const t: Transformation = {
      id: this.transformations.length + 1,
      type: "operator",
      name,
      uid: undefined,
      parallelism: undefined,
      parallelismLimit: undefined,
      chaining: "default",
      inputs,
      ...(extra.inputTypes ? { inputTypes: extra.inputTypes } : {}),
      operator: {
        kind,
        fn: this.registerFunction(fn),
        ...(extra.key !== undefined ? { key: extra.key } : {}),
        ...(extra.keyed ? { keyed: true } : {}),
        ...(extra.watermarks !== undefined ? { watermarks: extra.watermarks } : {}),
        ...(extra.aggregate !== undefined ? { aggregate: extra.aggregate } : {}),
      },
    };
    this.transformations.push(t);
    return t;
  }

  /** @internal */
  addVirtual(t: Omit<Transformation, "id" | "uid" | "parallelism" | "parallelismLimit" | "chaining">): Transformation {
    const full: Transformation = {
      ...t,
      id: this.transformations.length + 1,
      uid: undefined,
      parallelism: undefined,
      parallelismLimit: undefined,
      chaining: "default",
    };
    this.transformations.push(full);
    return full;
  }
}

function positiveInt(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1) throw new RiffleError("JOB_INVALID_GRAPH", `${what} must be a positive integer, got ${n}`);
  return n;
}
