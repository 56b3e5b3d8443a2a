/**
 * The JobGraph: what the JobManager schedules. Built by the SDK in plan mode from the user's
 * DataStream program, serialised as JSON into the job record and into each task's deployment.
 *
 *   source ──forward──► map ──hash(key)──► reduce ──forward──► sink
 *   └──── vertex v1 (chain) ────┘          └──── vertex v2 (chain) ────┘
 *
 * Operators joined by a forward edge of equal parallelism run in one task as a chain of function
 * calls; every other edge is a JobEdge whose records cross the network stack.
 */

export type Partitioner = "forward" | "hash" | "rebalance" | "rescale" | "broadcast" | "shuffle";

export const PARTITIONERS: readonly Partitioner[] = ["forward", "hash", "rebalance", "rescale", "broadcast", "shuffle"];

/** The operator kinds the TaskManager knows how to run; behaviour comes from the job's function table. */
export type OperatorKind =
  | "source"
  | "map"
  | "filter"
  | "flatMap"
  | "process"
  | "keyedReduce"
  | "keyedAggregate"
  | "keyedProcess"
  | "sink"
  /** An operator built by a factory in the function table (windows, joins, watermark assigners...). */
  | "operator";

export interface OperatorSpec {
  /** Node id in declaration order; stable as long as the job builds its graph the same way. */
  nodeId: number;
  name: string;
  /** The user's uid, or one derived from the node id. */
  uid: string;
  kind: OperatorKind;
  /** Index of the user function (or source/sink object) in the job's function table. */
  fn: number;
  /** Key selector function for keyed operators. */
  key?: number;
  /** For keyedAggregate: which aggregation and over which field. */
  aggregate?: { type: "sum" | "min" | "max" | "minBy" | "maxBy"; field: string | number | null };
  /** For sources: index of the WatermarkStrategy (env.fromSource) in the function table. */
  watermarks?: number;
  /**
   * For sources: the source has a split enumerator (FLIP-27), which the JobManager runs as the
   * vertex's source coordinator; its readers get their splits from it.
   */
  coordinated?: boolean;
  /** Whether the operator keeps keyed state (runs after a keyBy): the task gives it a keyed state backend. */
  keyed?: boolean;
  /** Operators of the same vertex fed by this one (indices into JobVertex.operators). */
  chainedOutputs: number[];
  /** Network outputs of this operator (ids of JobEdges leaving the vertex). */
  networkOutputs: string[];
  /** Consumers of the operator's side outputs, by OutputTag id. */
  sideOutputs?: { tag: string; chainedOutputs: number[]; networkOutputs: string[] }[];
}

export interface JobVertex {
  id: string;
  name: string;
  parallelism: number;
  maxParallelism: number;
  /** The highest parallelism the vertex can run at (a source that cannot run wider, windowAll); absent: maxParallelism. */
  parallelismLimit?: number;
  /** The chain, head first, in topological order. */
  operators: OperatorSpec[];
  /** Input edge ids, in gate order. */
  inputs: string[];
  /**
   * For a two-input head (connect, joins): which input of the head each entry of `inputs` feeds (1 or
   * 2). Absent: every input edge feeds input 1 (a single input, or a union).
   */
  inputTypes?: (1 | 2)[];
  /** Output edge ids, in partition order. */
  outputs: string[];
}

export interface JobEdge {
  id: string;
  source: string;
  target: string;
  partitioner: Partitioner;
  /** Key selector function id for hash partitioning. */
  keySelector?: number;
}

/** How a job restarts after a failure (Flink's restart strategies). */
export type RestartStrategy =
  | { type: "none" }
  | { type: "fixed-delay"; attempts: number; delayMs: number }
  | { type: "exponential-backoff"; initialDelayMs: number; maxDelayMs: number; multiplier: number; resetAfterMs: number }
  | { type: "failure-rate"; maxFailures: number; intervalMs: number; delayMs: number };

/** Checkpoint settings the job chose; unset fields take the cluster's defaults. */
export interface CheckpointSettings {
  intervalMs: number;
  timeoutMs?: number;
  minPauseMs?: number;
  tolerableFailures?: number;
  retained?: number;
}

export type StateBackendName = "memory" | "leveldb";

export interface JobGraph {
  name: string;
  maxParallelism: number;
  bufferTimeoutMs: number;
  /** How often periodic watermark generators run (Flink's pipeline.auto-watermark-interval, default 200 ms). */
  autoWatermarkIntervalMs?: number;
  /** Absent: the job takes no checkpoints. */
  checkpointing?: CheckpointSettings;
  /** Absent: the cluster default (no restarts without checkpoints, exponential backoff with them). */
  restartStrategy?: RestartStrategy;
  /** Absent: the cluster default (state.backend). */
  stateBackend?: StateBackendName;
  /**
   * How the JobManager planned this graph (set by it, not by the job): the submission's parallelism,
   * a uniform rescale's, and per-vertex overrides by uid. Planning again the same way gives the same
   * chains, which a rescale of single vertices relies on.
   */
  planned?: { parallelism?: number; parallelismOverride?: number; parallelismOverrides?: Record<string, number> };
  /** The job's own `job.autoscaler.*` settings (env.enableAutoscaling); absent: the cluster's. */
  autoscaler?: Record<string, string | number | boolean>;
  /** Topologically sorted: every vertex comes after the vertices feeding it. */
  vertices: JobVertex[];
  edges: JobEdge[];
  functionCount: number;
}

/** Runtime settings of a job shipped with every deployment. */
export interface JobRuntimeConfig {
  bufferTimeoutMs: number;
  args: string[];
  /** Size of the job's function table (JobGraph.functionCount): run mode must rebuild the same one. */
  functionCount: number;
  /** Keyed state backend of the job: JobGraph.stateBackend, else the cluster's `state.backend`. */
  stateBackend?: StateBackendName;
  /** Whether the job takes checkpoints (tasks then expect triggers, barriers and notifications). */
  checkpointing?: boolean;
  /** Interval of periodic watermark generation (JobGraph.autoWatermarkIntervalMs). */
  autoWatermarkIntervalMs?: number;
  /**
   * The job's checkpoints at this deployment, for two-phase-commit sinks that clean up after earlier
   * attempts (decision record 0012): `retainedUpTo` is the newest completed checkpoint or savepoint that
   * may still be restored (what was staged up to it stays), and every checkpoint or savepoint
   * triggered so far has an id below `nextCheckpointId`.
   */
  checkpointHistory?: { retainedUpTo: number; nextCheckpointId: number };
}

/** How producers and consumers of an edge connect: all-to-all, or pointwise for forward/rescale. */
export function isPointwise(p: Partitioner): boolean {
  return p === "forward" || p === "rescale";
}

export interface ChannelSpec {
  producer: number;
  subpartition: number;
}

/**
 * For an edge between `up` producers and `down` consumers: the consumer subtasks each producer
 * writes to (subpartition i goes to consumersOf[producer][i]), and the channels each consumer reads.
 * Pointwise edges follow Flink's POINTWISE pattern: with up >= down each consumer reads a contiguous
 * range of producers; with up < down each producer feeds a contiguous range of consumers.
 */
export function connectEdge(partitioner: Partitioner, up: number, down: number): { consumersOf: number[][]; channelsOf: ChannelSpec[][] } {
  const consumersOf: number[][] = Array.from({ length: up }, () => []);
  const channelsOf: ChannelSpec[][] = Array.from({ length: down }, () => []);
  if (!isPointwise(partitioner)) {
    for (let p = 0; p < up; p++) for (let c = 0; c < down; c++) consumersOf[p]!.push(c);
  } else if (up >= down) {
    for (let p = 0; p < up; p++) consumersOf[p]!.push(Math.floor((p * down) / up));
  } else {
    for (let c = 0; c < down; c++) consumersOf[Math.floor((c * up) / down)]!.push(c);
  }
  for (let p = 0; p < up; p++) {
    consumersOf[p]!.forEach((c, subpartition) => channelsOf[c]!.push({ producer: p, subpartition }));
  }
  return { consumersOf, channelsOf };
}
