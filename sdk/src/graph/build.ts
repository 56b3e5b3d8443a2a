import { CONFIG_OPTIONS, RiffleError, type JobEdge, type JobGraph, type JobVertex, type OperatorSpec, type Partitioner } from "@riffle/shared";
import type { StreamExecutionEnvironment } from "../api/environment.js";
import type { SinkJobSettings } from "../api/sink.js";
import type { Transformation } from "../api/transformation.js";

export interface BuildOptions {
  name: string;
  /** Parallelism asked for at submission (`riffle run -p`); the job's own settings win over it. */
  parallelism?: number | undefined;
  defaultParallelism: number;
  defaultMaxParallelism: number;
  defaultBufferTimeoutMs: number;
  /** Interval of periodic watermarks for jobs that set none (`pipeline.auto-watermark-interval`); default 200 ms, as Flink's. */
  defaultAutoWatermarkIntervalMs?: number | undefined;
  /**
   * Parallelism per vertex, keyed by the uid of any operator of the vertex (Flink's
   * `pipeline.jobvertex-parallelism-overrides`, keyed by uid because uids are what stays stable).
   * Applied after chaining, so a vertex keeps its operators whatever its new parallelism; it wins
   * over every other setting, and is capped by what the vertex supports (a collection source: 1).
   */
  parallelismOverrides?: Readonly<Record<string, number>> | undefined;
  /**
   * The longest delay of the cluster's restart strategy for checkpointed jobs that set none (its
   * exponential back-off's max delay); absent: that key's default. Sinks check their settings against it.
   */
  defaultRestartDelayMs?: number | undefined;
  /** How long a lost TaskManager can go unnoticed (heartbeat timeout plus one interval); absent: from those keys' defaults. */
  failureDetectionMs?: number | undefined;
}

/** A duration key's default from the configuration schema, in ms. */
function durationDefault(key: "restart-strategy.exponential-backoff.max-delay" | "heartbeat.timeout" | "heartbeat.interval"): number {
  const option = CONFIG_OPTIONS[key];
  return option.schema.parse(option.default);
}

interface StreamEdge {
  source: Transformation;
  partitioner: Partitioner | undefined;
  keySelector: number | undefined;
  /** The side output of `source` this edge carries (absent: its main output). */
  tag: string | undefined;
  /** Which input of a two-input target the edge feeds. */
  input: 1 | 2;
}

/**
 * Turns the transformations recorded by a job into a JobGraph: resolves parallelism, validates the
 * graph (no cycles, parallelism within max parallelism, forward only between equal parallelism),
 * and chains forward-connected operators of equal parallelism into one vertex.
 */
export function buildJobGraph(env: StreamExecutionEnvironment, options: BuildOptions): JobGraph {
  const all = env.transformations;
  assertAcyclic(all);
  const operators = all.filter((t) => t.type === "operator");
  if (operators.length === 0) throw new RiffleError("JOB_INVALID_GRAPH", "the job defines no operators: add a source and a sink to the environment");
  if (!operators.some((t) => t.operator!.kind === "sink")) {
    throw new RiffleError(
      "JOB_INVALID_GRAPH",
      "the job has no sink, so nothing it computes would leave it: end a pipeline with print(), collect(), writeAsText(), writeExactlyOnce() or sinkTo()",
    );
  }

  const maxParallelism = env.getMaxParallelism() ?? options.defaultMaxParallelism;
  const envParallelism = env.getParallelism() ?? options.parallelism ?? options.defaultParallelism;
  const parallelism = new Map<Transformation, number>();
  for (const t of operators) {
    let p = t.parallelism ?? envParallelism;
    if (t.parallelism === undefined && t.parallelismLimit !== undefined) p = Math.min(p, t.parallelismLimit);
    if (p > maxParallelism) {
      throw new RiffleError(
        "PARALLELISM_ABOVE_MAX",
        `operator "${t.name}" has parallelism ${p}, above the job's max parallelism ${maxParallelism}; lower the parallelism or raise it with env.setMaxParallelism()`,
      );
    }
    parallelism.set(t, p);
  }

  const uids = new Set<string>();
  for (const t of operators) {
    if (t.uid === undefined) continue;
    if (uids.has(t.uid)) throw new RiffleError("JOB_INVALID_GRAPH", `the uid "${t.uid}" is used by more than one operator; uids must be unique`);
    uids.add(t.uid);
  }

  const inputsOf = new Map<Transformation, StreamEdge[]>();
  for (const t of operators)
    inputsOf.set(
      t,
      t.inputs.flatMap((i, n) => resolveInputs(i, undefined, undefined, undefined).map((e) => ({ ...e, input: t.inputTypes?.[n] ?? 1 }))),
    );

  const vertexOf = new Map<Transformation, { vertex: JobVertex; index: number }>();
  const vertices: JobVertex[] = [];
  const edges: JobEdge[] = [];
  /** Edges that are forward only because their ends had equal parallelism (no partitioning asked for). */
  const implicitForward = new Set<string>();
  for (const t of operators) {
    const p = parallelism.get(t)!;
    const ins = inputsOf.get(t)!;
    if (t.operator!.kind === "source" && ins.length > 0) throw new RiffleError("JOB_INVALID_GRAPH", `source "${t.name}" cannot have inputs`);
    if (t.operator!.kind !== "source" && ins.length === 0) throw new RiffleError("JOB_INVALID_GRAPH", `operator "${t.name}" has no input`);
    const resolved = ins.map((e) => {
      const up = parallelism.get(e.source)!;
      const partitioner = e.partitioner ?? (up === p ? "forward" : "rebalance");
      if (partitioner === "forward" && up !== p) {
        throw new RiffleError(
          "JOB_INVALID_GRAPH",
          `forward partitioning from "${e.source.name}" (parallelism ${up}) to "${t.name}" (parallelism ${p}) needs equal parallelism; use rebalance() or rescale()`,
        );
      }
      return { ...e, partitioner, implicit: e.partitioner === undefined };
    });
    const spec: OperatorSpec = {
      nodeId: t.id,
      name: t.name,
      uid: t.uid ?? `${t.operator!.kind}-${t.id}`,
      kind: t.operator!.kind,
      fn: t.operator!.fn,
      ...(t.operator!.key !== undefined ? { key: t.operator!.key } : {}),
      ...(t.operator!.aggregate !== undefined ? { aggregate: t.operator!.aggregate } : {}),
      ...(t.operator!.keyed ? { keyed: true } : {}),
      ...(t.operator!.watermarks !== undefined ? { watermarks: t.operator!.watermarks } : {}),
      ...(t.operator!.kind === "source" && hasEnumerator(env.functions[t.operator!.fn]) ? { coordinated: true } : {}),
      chainedOutputs: [],
      networkOutputs: [],
    };

    const single = resolved.length === 1 ? resolved[0]! : undefined;
    const upstream = single ? vertexOf.get(single.source) : undefined;
    const chainable =
      t.inputTypes === undefined &&
      single !== undefined &&
      upstream !== undefined &&
      single.partitioner === "forward" &&
      t.chaining === "default" &&
      single.source.chaining !== "never" &&
      upstream.vertex.parallelism === p;
    if (chainable && upstream) {
      const index = upstream.vertex.operators.length;
      upstream.vertex.operators.push(spec);
      outputsOf(upstream.vertex.operators[upstream.index]!, single.tag).chainedOutputs.push(index);
      upstream.vertex.name = `${upstream.vertex.name} -> ${t.name}`;
      if (t.parallelismLimit !== undefined)
        upstream.vertex.parallelismLimit = Math.min(upstream.vertex.parallelismLimit ?? t.parallelismLimit, t.parallelismLimit);
      vertexOf.set(t, { vertex: upstream.vertex, index });
      continue;
    }
    const vertex: JobVertex = {
      id: `v${t.id}`,
      name: t.name,
      parallelism: p,
      maxParallelism,
      ...(t.parallelismLimit !== undefined ? { parallelismLimit: t.parallelismLimit } : {}),
      operators: [spec],
      inputs: [],
      outputs: [],
    };
    vertices.push(vertex);
    vertexOf.set(t, { vertex, index: 0 });
    for (const e of resolved) {
      const from = vertexOf.get(e.source)!;
      const edge: JobEdge = {
        id: `e${edges.length + 1}`,
        source: from.vertex.id,
        target: vertex.id,
        partitioner: e.partitioner,
        ...(e.keySelector !== undefined ? { keySelector: e.keySelector } : {}),
      };
      if (edge.partitioner === "hash" && edge.keySelector === undefined)
        throw new RiffleError("JOB_INVALID_GRAPH", `hash edge into "${t.name}" has no key selector`);
      if (e.implicit && edge.partitioner === "forward") implicitForward.add(edge.id);
      edges.push(edge);
      from.vertex.outputs.push(edge.id);
      outputsOf(from.vertex.operators[from.index]!, e.tag).networkOutputs.push(edge.id);
      vertex.inputs.push(edge.id);
    }
    if (t.inputTypes !== undefined) vertex.inputTypes = resolved.map((e) => e.input);
  }

  // Sinks check their settings against the job's (a Kafka transaction timeout shorter than a checkpoint interval).
  const settings: SinkJobSettings = {
    checkpointIntervalMs: env.getCheckpointing()?.intervalMs,
    restartStrategy: env.getRestartStrategy(),
    defaultRestartDelayMs: options.defaultRestartDelayMs ?? durationDefault("restart-strategy.exponential-backoff.max-delay"),
    failureDetectionMs: options.failureDetectionMs ?? durationDefault("heartbeat.timeout") + durationDefault("heartbeat.interval"),
  };
  for (const t of operators) {
    if (t.operator!.kind !== "sink") continue;
    const sink = env.functions[t.operator!.fn] as { validateJob?: (job: typeof settings) => void } | undefined;
    sink?.validateJob?.(settings);
  }
  if (options.parallelismOverrides) applyParallelismOverrides(vertices, edges, implicitForward, options.parallelismOverrides);

  return {
    name: env.getJobName() ?? options.name,
    maxParallelism,
    bufferTimeoutMs: env.getBufferTimeout() ?? options.defaultBufferTimeoutMs,
    autoWatermarkIntervalMs: env.getAutoWatermarkInterval() ?? options.defaultAutoWatermarkIntervalMs ?? 200,
    ...(env.getCheckpointing() ? { checkpointing: env.getCheckpointing()! } : {}),
    ...(env.getRestartStrategy() ? { restartStrategy: env.getRestartStrategy()! } : {}),
    ...(env.getStateBackend() ? { stateBackend: env.getStateBackend()! } : {}),
    ...(env.getAutoscaler() ? { autoscaler: env.getAutoscaler()! } : {}),
    vertices,
    edges,
    functionCount: env.functions.length,
  };
}

/**
 * Sets each vertex named in `overrides` (by the uid of one of its operators) to its parallelism.
 * A forward edge that was forward only because its ends had equal parallelism becomes rebalance
 * when they no longer do, as it would have been planned; a forward edge the job asked for needs
 * equal parallelism on both ends, as always.
 */
function applyParallelismOverrides(
  vertices: JobVertex[],
  edges: JobEdge[],
  implicitForward: ReadonlySet<string>,
  overrides: Readonly<Record<string, number>>,
): void {
  const known = new Set<string>();
  for (const v of vertices) {
    let p: number | undefined;
    for (const op of v.operators) {
      known.add(op.uid);
      const o = overrides[op.uid];
      if (o === undefined) continue;
      if (!Number.isInteger(o) || o < 1) throw new RiffleError("BAD_REQUEST", `the parallelism override of "${op.uid}" must be a positive integer, got ${o}`);
      if (p !== undefined && p !== o) {
        throw new RiffleError(
          "BAD_REQUEST",
          `operators chained into "${v.name}" got different parallelism overrides (${p} and ${o}); a vertex has one parallelism`,
        );
      }
      p = o;
    }
    if (p === undefined) continue;
    if (v.parallelismLimit !== undefined) p = Math.min(p, v.parallelismLimit);
    if (p > v.maxParallelism) {
      throw new RiffleError("PARALLELISM_ABOVE_MAX", `"${v.name}" cannot run at parallelism ${p}: the job's max parallelism is ${v.maxParallelism}`);
    }
    v.parallelism = p;
  }
  const unknown = Object.keys(overrides).filter((uid) => !known.has(uid));
  if (unknown.length > 0) throw new RiffleError("BAD_REQUEST", `parallelism overrides name operators the job does not have: ${unknown.join(", ")}`);
  const byId = new Map(vertices.map((v) => [v.id, v]));
  for (const e of edges) {
    if (e.partitioner !== "forward") continue;
    const from = byId.get(e.source)!;
    const to = byId.get(e.target)!;
    if (from.parallelism === to.parallelism) continue;
    if (implicitForward.has(e.id)) {
      e.partitioner = "rebalance";
      continue;
    }
    throw new RiffleError(
      "JOB_INVALID_GRAPH",
      `forward partitioning from "${from.name}" (parallelism ${from.parallelism}) to "${to.name}" (parallelism ${to.parallelism}) needs equal parallelism; override both or neither`,
    );
  }
}

/** Where an operator's main output, or its side output `tag`, goes. */
function outputsOf(spec: OperatorSpec, tag: string | undefined): { chainedOutputs: number[]; networkOutputs: string[] } {
  if (tag === undefined) return spec;
  spec.sideOutputs ??= [];
  let side = spec.sideOutputs.find((s) => s.tag === tag);
  if (!side) {
    side = { tag, chainedOutputs: [], networkOutputs: [] };
    spec.sideOutputs.push(side);
  }
  return side;
}

/** Follows virtual transformations (partition, union, side output) up to the operators feeding a node. */
function resolveInputs(t: Transformation, partitioner: Partitioner | undefined, keySelector: number | undefined, tag: string | undefined): StreamEdge[] {
  switch (t.type) {
    case "operator":
      return [{ source: t, partitioner, keySelector, tag, input: 1 }];
    case "partition":
      // The partitioning closest to the consumer wins, as in Flink (keyBy(...).rebalance() rebalances).
      return t.inputs.flatMap((i) => resolveInputs(i, partitioner ?? t.partitioner, partitioner === undefined ? t.keySelector : keySelector, tag));
    case "sideOutput":
      return t.inputs.flatMap((i) => resolveInputs(i, partitioner, keySelector, t.tag));
    case "union":
    case "feedback":
      return t.inputs.flatMap((i) => resolveInputs(i, partitioner, keySelector, tag));
  }
}

function assertAcyclic(all: readonly Transformation[]): void {
  const state = new Map<Transformation, "visiting" | "done">();
  const path: Transformation[] = [];
  const visit = (t: Transformation): void => {
    const s = state.get(t);
    if (s === "done") return;
    if (s === "visiting") {
      const cycle = path
        .slice(path.indexOf(t))
        .concat(t)
        .map((x) => x.name);
      throw new RiffleError(
        "JOB_GRAPH_CYCLE",
        `the job's dataflow has a cycle (${cycle.join(" -> ")}); Riffle runs acyclic dataflows, so feedback loops (iterate/closeWith) are not supported`,
      );
    }
    state.set(t, "visiting");
    path.push(t);
    for (const i of t.inputs) visit(i);
    path.pop();
    state.set(t, "done");
  };
  for (const t of all) visit(t);
}

/** A FLIP-27 source: its enumerator runs in the JobManager. */
function hasEnumerator(source: unknown): boolean {
  return typeof (source as { createEnumerator?: unknown } | null)?.createEnumerator === "function";
}
