import type { JobGraph } from "@riffle/shared";
import type { AutoscalerSettings } from "./settings.js";

/**
 * The scaling algorithm of Flink's Kubernetes operator autoscaler, after DS2 (Kalavri et al., OSDI
 * 2018), as pure functions over collected metrics: no clock, no job, no I/O, so that tests replay
 * recorded metric series through it.
 *
 *   samples (one per interval) ─► summarize: averages over the window, lag growth per source
 *        ─► evaluate: per vertex, in topological order
 *              true processing rate  TPR = records in per second / busy fraction
 *              target data rate      sources: input rate + lag growth; others: Σ upstream target × output ratio
 *              sizing rate           the same over the newest eighth of the window, when higher
 *              catch-up rate         backlog / catch-up duration (carried downstream like the target)
 *        ─► decide: scale up when TPR < target / (utilization + boundary) + catch-up,
 *                   down when TPR > target / (utilization − boundary) + catch-up + restart backlog,
 *                   to ceil(p × capacity / TPR), capacity = sizing / utilization + catch-up + restart backlog,
 *                   the factor clamped, the result clamped to min/max, aligned to key groups,
 *                   forward-connected vertices equalised, ineffective scale-ups refused.
 */

/** A vertex's totals at one moment, as collected from the TaskManagers' reports. */
export interface VertexSample {
  /**
   * Records read per second, summed over subtasks. A source reads from outside: its rate is the
   * records its source operator emits into the chain (networked or not).
   */
  inputRate: number;
  /** Records written per second into the vertex's network outputs, summed over subtasks and edges. */
  outputRate: number;
  /** Busy milliseconds per second of the busiest subtask (Flink's default busy-time aggregator, MAX). */
  busyTimeMsPerSecond: number;
  /** Back-pressured milliseconds per second of the most back-pressured subtask. */
  backPressuredTimeMsPerSecond: number;
  /** Sources that know it: records not read yet, summed over subtasks. */
  pendingRecords?: number | undefined;
  /**
   * Records read and written so far, summed over subtasks (the TaskManagers' counters, as
   * `inputRate` and `outputRate` count them), and when they were reported. Where two samples have
   * them, rates between the two come from these counters: exact over any span, where the reported
   * rates are averages over the last seconds that blur a step in load.
   */
  counts?: { recordsIn: number; recordsOut: number; at: number } | undefined;
}

/** One collection: every vertex of the job at time `at`. */
export interface MetricsSample {
  at: number;
  vertices: Record<string, VertexSample>;
}

/** What the algorithm needs of a vertex of the job graph. */
export interface VertexTopology {
  id: string;
  name: string;
  parallelism: number;
  /** Key groups of the job (JobGraph.maxParallelism): a keyed vertex is aligned to its divisors. */
  maxParallelism: number;
  /** The vertex cannot run wider (a collection source); absent: no limit of its own. */
  parallelismLimit: number | undefined;
  /** Upstream vertex ids, one entry per input edge. */
  inputs: string[];
  /** Number of network output edges (records out count once per edge). */
  outputEdges: number;
  /** Fed by a hash edge: its state is split by key groups. */
  keyed: boolean;
  /** Vertices joined to this one by forward edges: they must keep equal parallelism. */
  forwardPeers: string[];
  /** A source whose enumerator reports its splits (Kafka partitions): never wider, and aligned to a divisor of them. */
  splitCount?: number | undefined;
}

/** The job graph as the algorithm sees it, vertices in topological order; `splitCounts` by vertex id, for sources that report them. */
export function topologyOf(graph: JobGraph, splitCounts: Readonly<Record<string, number>> = {}): VertexTopology[] {
  const edges = new Map(graph.edges.map((e) => [e.id, e]));
  return graph.vertices.map((v) => {
    const inEdges = v.inputs.map((id) => edges.get(id)!).filter(Boolean);
    const outEdges = v.outputs.map((id) => edges.get(id)!).filter(Boolean);
    return {
      id: v.id,
      name: v.name,
      parallelism: v.parallelism,
      maxParallelism: v.maxParallelism,
      parallelismLimit: v.parallelismLimit,
      inputs: inEdges.map((e) => e.source),
      outputEdges: outEdges.length,
      keyed: inEdges.some((e) => e.partitioner === "hash"),
      forwardPeers: [
        ...inEdges.filter((e) => e.partitioner === "forward").map((e) => e.source),
        ...outEdges.filter((e) => e.partitioner === "forward").map((e) => e.target),
      ],
      splitCount: inEdges.length === 0 ? splitCounts[v.id] : undefined,
    };
  });
}

/** A vertex's metrics over the window. */
export interface VertexSummary {
  inputRate: number;
  outputRate: number;
  busyTimeMsPerSecond: number;
  backPressuredTimeMsPerSecond: number;
  /** The newest backlog, for sources that know it. */
  pendingRecords: number | undefined;
  /** Growth of the backlog per second over the window (negative while it shrinks). */
  lagGrowthRate: number;
  /**
   * The same rates over the newest eighth of the window (at least the last two samples). A load step shows in the window's average
   * only gradually; the decision to rescale is taken on the average (noise does not trigger it), but
   * the new parallelism is sized for the newer level when it is higher, so one step brings one rescale.
   */
  recentInputRate: number;
  recentLagGrowthRate: number;
}

/** Averages over the samples (oldest first); lag growth from the first and last backlog. */
export function summarize(samples: readonly MetricsSample[]): Record<string, VertexSummary> {
  const out: Record<string, VertexSummary> = {};
  const first = samples[0];
  const last = samples.at(-1);
  if (!first || !last) return out;
  const recentFrom = last.at - (last.at - first.at) / 8;
  // At least the two newest samples, so that the recent lag growth has two backlogs to compare.
  const recent = samples.filter((s, i) => s.at >= recentFrom || i >= samples.length - 2);
  for (const id of Object.keys(last.vertices)) {
    const series = samples.map((s) => s.vertices[id]).filter((v): v is VertexSample => v !== undefined);
    const recentSeries = recent.map((s) => s.vertices[id]).filter((v): v is VertexSample => v !== undefined);
    const avg = (xs: VertexSample[], f: (v: VertexSample) => number) => xs.reduce((sum, v) => sum + f(v), 0) / xs.length;
    out[id] = {
      inputRate: counted(series, "recordsIn") ?? avg(series, (v) => v.inputRate),
      outputRate: counted(series, "recordsOut") ?? avg(series, (v) => v.outputRate),
      busyTimeMsPerSecond: avg(series, (v) => v.busyTimeMsPerSecond),
      backPressuredTimeMsPerSecond: avg(series, (v) => v.backPressuredTimeMsPerSecond),
      pendingRecords: [...samples].reverse().find((s) => s.vertices[id]?.pendingRecords !== undefined)?.vertices[id]?.pendingRecords,
      lagGrowthRate: lagGrowth(samples, id),
      recentInputRate: counted(recentSeries, "recordsIn") ?? avg(recentSeries, (v) => v.inputRate),
      recentLagGrowthRate: lagGrowth(recent, id),
    };
  }
  return out;
}

/**
 * Records per second between the first and the last sample, from the counters; undefined when they
 * are missing or went back (a subtask restarted: its counters start over).
 */
function counted(series: readonly VertexSample[], field: "recordsIn" | "recordsOut"): number | undefined {
  const a = series[0]?.counts;
  const b = series.at(-1)?.counts;
  if (!a || !b || b.at <= a.at || b[field] < a[field]) return undefined;
  return ((b[field] - a[field]) * 1000) / (b.at - a.at);
}

/** Backlog growth per second between the first and the last sample that know the vertex's backlog. */
function lagGrowth(samples: readonly MetricsSample[], id: string): number {
  const withLag = samples.filter((s) => s.vertices[id]?.pendingRecords !== undefined);
  const a = withLag[0];
  const b = withLag.at(-1);
  // The backlog is reported with the counters: their time, where known.
  const at = (s: MetricsSample) => s.vertices[id]?.counts?.at ?? s.at;
  const seconds = a && b ? (at(b) - at(a)) / 1000 : 0;
  return seconds > 0 ? (b!.vertices[id]!.pendingRecords! - a!.vertices[id]!.pendingRecords!) / seconds : 0;
}

/** What the algorithm concluded about a vertex's load. */
export interface VertexEvaluation {
  summary: VertexSummary;
  /** Records per second the vertex could process at its current parallelism; Infinity when never busy. */
  trueProcessingRate: number;
  /** Records per second the vertex must be able to take, over the window. */
  targetDataRate: number;
  /** The rate a rescale sizes the vertex for: the target, or the newest eighth's when higher. */
  sizingDataRate: number;
  /** Extra records per second needed to work off the sources' backlog within the catch-up duration. */
  catchUpDataRate: number;
  /** Target rate over true processing rate: the fraction of its capacity the vertex needs. */
  utilization: number;
  /** Below this true processing rate the vertex scales up. */
  scaleUpRateThreshold: number;
  /** Above this true processing rate the vertex scales down. */
  scaleDownRateThreshold: number;
  /** The capacity a rescale sizes the vertex for. */
  targetCapacity: number;
}

/** Evaluates every vertex of the topology (which must be in topological order) over its summary. */
export function evaluate(
  topology: readonly VertexTopology[],
  summaries: Readonly<Record<string, VertexSummary>>,
  settings: AutoscalerSettings,
): Record<string, VertexEvaluation> {
  const out: Record<string, VertexEvaluation> = {};
  const catchUpSeconds = settings.catchUpMs / 1000;
  const restartSeconds = settings.restartMs / 1000;
  const upper = settings.targetUtilization + settings.utilizationBoundary;
  const lower = settings.targetUtilization - settings.utilizationBoundary;
  for (const v of topology) {
    const s = summaries[v.id];
    if (!s) continue;
    let target: number;
    let sizing: number;
    let catchUp: number;
    if (v.inputs.length === 0) {
      target = Math.max(0, s.inputRate + s.lagGrowthRate);
      sizing = Math.max(target, s.recentInputRate + s.recentLagGrowthRate);
      catchUp = catchUpSeconds > 0 && s.pendingRecords !== undefined ? s.pendingRecords / catchUpSeconds : 0;
    } else {
      target = 0;
      sizing = 0;
      catchUp = 0;
      for (const u of v.inputs) {
        const up = out[u];
        const us = summaries[u];
        if (!up || !us) continue;
        const ratio = outputRatio(topology.find((t) => t.id === u)!, us);
        target += up.targetDataRate * ratio;
        sizing += up.sizingDataRate * ratio;
        catchUp += up.catchUpDataRate * ratio;
      }
    }
    const busy = s.busyTimeMsPerSecond / 1000;
    const tpr = busy > 0 ? s.inputRate / busy : Number.POSITIVE_INFINITY;
    const restartBacklog = catchUpSeconds > 0 ? (sizing * restartSeconds) / catchUpSeconds : 0;
    out[v.id] = {
      summary: s,
      trueProcessingRate: tpr,
      targetDataRate: target,
      sizingDataRate: sizing,
      catchUpDataRate: catchUp,
      utilization: tpr === Number.POSITIVE_INFINITY ? 0 : tpr > 0 ? target / tpr : Number.POSITIVE_INFINITY,
      scaleUpRateThreshold: target / upper + catchUp,
      scaleDownRateThreshold: lower > 0 ? target / lower + catchUp + restartBacklog : Number.POSITIVE_INFINITY,
      targetCapacity: sizing / settings.targetUtilization + catchUp + restartBacklog,
    };
  }
  return out;
}

/**
 * Records one input record of `v` yields on each of its output edges. A source that read nothing
 * over the window (stalled, its backlog growing) is taken to pass on what it reads one for one.
 */
function outputRatio(v: VertexTopology, s: VertexSummary): number {
  const perEdge = s.outputRate / Math.max(1, v.outputEdges);
  if (s.inputRate > 0) return perEdge / s.inputRate;
  return v.inputs.length === 0 ? 1 : 0;
}

/** The last rescale of a vertex, kept to judge whether a further scale-up would help. */
export interface LastScaling {
  at: number;
  from: number;
  to: number;
  /** True processing rate before the rescale, and what it was expected to become. */
  trueProcessingRateBefore: number;
  expectedTrueProcessingRate: number;
}

export type ScalingDirection = "up" | "down" | "none";

/** The decision for one vertex. */
export interface VertexDecision {
  vertexId: string;
  current: number;
  recommended: number;
  direction: ScalingDirection;
  /** Why, in words a user reads in the history and the log. */
  reason: string;
  /** A scale-up was refused because the last one did not raise throughput. */
  ineffective: boolean;
}

/**
 * Decides each vertex's parallelism from its evaluation. `lastScalings`: the last scale-up of each
 * vertex, for ineffective-scaling detection (Flink's scaling effectiveness detection).
 */
export function decide(
  topology: readonly VertexTopology[],
  evaluations: Readonly<Record<string, VertexEvaluation>>,
  settings: AutoscalerSettings,
  lastScalings: Readonly<Record<string, LastScaling>> = {},
): Record<string, VertexDecision> {
  const out: Record<string, VertexDecision> = {};
  for (const v of topology) {
    const e = evaluations[v.id];
    const p = v.parallelism;
    const keep = (reason: string, ineffective = false): VertexDecision => ({
      vertexId: v.id,
      current: p,
      recommended: p,
      direction: "none",
      reason,
      ineffective,
    });
    if (!e) {
      out[v.id] = keep("no metrics for this vertex");
      continue;
    }
    const tpr = e.trueProcessingRate;
    if (tpr === 0) {
      out[v.id] = keep("busy without processing records: no rate to size it by");
      continue;
    }
    const pct = (x: number) => `${Math.round(x * 100)}%`;
    if (tpr >= e.scaleUpRateThreshold && tpr <= e.scaleDownRateThreshold) {
      out[v.id] = keep(
        `utilization ${pct(e.utilization)} is within ${pct(settings.targetUtilization - settings.utilizationBoundary)}–${pct(settings.targetUtilization + settings.utilizationBoundary)}`,
      );
      continue;
    }
    const { upper, lower } = limitsOf(v, settings);
    let factor = tpr === Number.POSITIVE_INFINITY ? 0 : e.targetCapacity / tpr;
    factor = Math.min(Math.max(factor, 1 - settings.scaleDownMaxFactor), 1 + settings.scaleUpMaxFactor);
    let next = Math.min(Math.max(Math.ceil(p * factor - 1e-9), lower), upper);
    if (v.keyed) next = alignToKeyGroups(next, v.maxParallelism, upper);
    else if (v.splitCount !== undefined) next = alignToSplits(next, v.splitCount, upper);
    if (next === p) {
      out[v.id] = keep(`utilization ${pct(e.utilization)}, but ${p} is already the closest parallelism within the limits`);
      continue;
    }
    const direction: ScalingDirection = next > p ? "up" : "down";
    if (direction === "up" && tpr > e.scaleDownRateThreshold) {
      // Triggered below the band, but sized up for the newest eighth: a rise in load too new to show
      // in the window's average. Scaling up now would size for a second or two of it (recorded on a
      // cluster: 1 → 2 at 32 % where the new load needed 4). Keep the parallelism; once the
      // average crosses the band's top, the scale-up is sized on the new load.
      out[v.id] = keep(
        `utilization ${pct(e.utilization)} is below ${pct(settings.targetUtilization - settings.utilizationBoundary)}, but the newest samples show a rise to ${fmt(e.sizingDataRate)}/s: keeping ${p} until the window shows it`,
      );
      continue;
    }
    const rates = `true processing rate ${fmt(tpr)}/s at parallelism ${p}, target ${fmt(e.targetDataRate)}/s${e.catchUpDataRate > 0 ? ` + catch-up ${fmt(e.catchUpDataRate)}/s` : ""}`;
    if (direction === "up") {
      const ineffective = ineffectiveScaleUp(tpr, lastScalings[v.id], settings);
      if (ineffective) {
        out[v.id] = keep(ineffective, true);
        continue;
      }
    }
    out[v.id] = {
      vertexId: v.id,
      current: p,
      recommended: next,
      direction,
      reason: `${direction === "up" ? "scale up" : "scale down"}: utilization ${pct(e.utilization)} (${rates})`,
      ineffective: false,
    };
  }
  equaliseForwardGroups(topology, out, evaluations, settings, lastScalings);
  return out;
}

/** A vertex's bounds, and what sets its upper one (for reasons a user reads). */
interface VertexLimits {
  lower: number;
  upper: number;
  upperWhy: string;
}

function limitsOf(v: VertexTopology, settings: AutoscalerSettings): VertexLimits {
  // A source with more subtasks than splits leaves readers idle: its splits bound it too (Flink's operator).
  const bounds: Array<[number, string]> = [
    [settings.maxParallelism, "job.autoscaler.vertex.max-parallelism"],
    [v.maxParallelism, "its max parallelism (key groups)"],
    [v.parallelismLimit ?? Number.POSITIVE_INFINITY, "it cannot run wider"],
    [v.splitCount ?? Number.POSITIVE_INFINITY, `its ${v.splitCount} splits`],
  ];
  let [upper, upperWhy] = bounds[0]!;
  for (const [b, why] of bounds) if (b < upper) [upper, upperWhy] = [b, why];
  return { lower: Math.min(settings.minParallelism, upper), upper, upperWhy };
}

/**
 * Flink's scaling effectiveness detection: the reason a vertex must not be scaled up again (its last
 * scale-up raised the true processing rate by less than the threshold of what it promised), or
 * undefined.
 */
function ineffectiveScaleUp(tpr: number, last: LastScaling | undefined, settings: AutoscalerSettings): string | undefined {
  if (!settings.effectivenessDetection || !last || last.to <= last.from) return undefined;
  const expected = last.expectedTrueProcessingRate - last.trueProcessingRateBefore;
  const actual = tpr - last.trueProcessingRateBefore;
  if (!(expected > 0 && actual / expected < settings.effectivenessThreshold)) return undefined;
  return `ineffective scaling: the scale-up from ${last.from} to ${last.to} raised the true processing rate by ${fmt(actual)}/s of the ${fmt(expected)}/s expected (below ${Math.round(settings.effectivenessThreshold * 100)}%); not scaling it up again`;
}

/**
 * Flink's key-group alignment: the smallest parallelism from `p` up that divides the key groups
 * evenly, searched up to half of them and `upper`; `p` itself when there is none.
 */
export function alignToKeyGroups(p: number, keyGroups: number, upper: number): number {
  for (let q = p; q <= keyGroups / 2 && q <= upper; q++) if (keyGroups % q === 0) return q;
  return p;
}

/**
 * Flink's alignment of a source to its partitions: the smallest parallelism from `p` up to `upper`
 * that divides the splits evenly (every reader gets as many); `p` itself when there is none.
 */
export function alignToSplits(p: number, splits: number, upper: number): number {
  for (let q = p; q <= splits && q <= upper; q++) if (splits % q === 0) return q;
  return p;
}

/**
 * Vertices joined by forward edges must keep equal parallelism: the group takes the highest
 * parallelism recommended among them, within every member's limits — min/max, key groups, a
 * source's splits or own limit, and a scale-up found ineffective (Flink's blocked vertex) — and
 * aligned for every member (key groups, splits) where one parallelism suits them all.
 */
function equaliseForwardGroups(
  topology: readonly VertexTopology[],
  decisions: Record<string, VertexDecision>,
  evaluations: Readonly<Record<string, VertexEvaluation>>,
  settings: AutoscalerSettings,
  lastScalings: Readonly<Record<string, LastScaling>>,
): void {
  const byId = new Map(topology.map((v) => [v.id, v]));
  const seen = new Set<string>();
  for (const v of topology) {
    if (seen.has(v.id) || v.forwardPeers.length === 0) continue;
    const group: VertexTopology[] = [];
    const stack = [v.id];
    while (stack.length > 0) {
      const id = stack.pop()!;
      const member = byId.get(id);
      if (seen.has(id) || !member) continue;
      seen.add(id);
      group.push(member);
      stack.push(...member.forwardPeers);
    }
    const members = group.filter((m) => decisions[m.id] !== undefined);
    if (members.length < 2) continue;
    const wanted = Math.max(...members.map((m) => decisions[m.id]!.recommended));
    // All recommend the same: each within its own limits already.
    if (members.every((m) => decisions[m.id]!.recommended === wanted)) continue;

    // The group's bounds: the tightest upper and the highest lower bound of its members.
    let upper = Number.POSITIVE_INFINITY;
    let capper = "";
    let lower = 1;
    const blocked = new Map<string, string>();
    for (const m of members) {
      const limits = limitsOf(m, settings);
      const tpr = evaluations[m.id]?.trueProcessingRate;
      const ineffective = decisions[m.id]!.ineffective
        ? decisions[m.id]!.reason
        : tpr === undefined
          ? undefined
          : ineffectiveScaleUp(tpr, lastScalings[m.id], settings);
      if (ineffective && m.parallelism < limits.upper) {
        blocked.set(m.id, ineffective);
        limits.upper = m.parallelism;
        limits.upperWhy = "its last scale-up was ineffective";
      }
      if (limits.upper < upper) {
        upper = limits.upper;
        capper = `${m.name}: ${limits.upperWhy}`;
      }
      lower = Math.max(lower, limits.lower);
    }
    // A lower bound (min-parallelism) yields to an upper one no member can exceed.
    let target = Math.min(Math.max(wanted, lower), upper);
    target = alignForGroup(target, upper, members);
    const names = (ms: VertexTopology[]) => ms.map((m) => m.name).join(", ");
    for (const m of members) {
      const d = decisions[m.id]!;
      const own = d.recommended;
      d.recommended = target;
      d.direction = target > d.current ? "up" : target < d.current ? "down" : "none";
      if (own === target) continue;
      const peers = names(members.filter((o) => o.id !== m.id));
      const capped = wanted > target && target === upper ? ` (at most ${upper}, ${capper})` : "";
      const what = d.direction === "up" ? `scale up to ${target}` : d.direction === "down" ? `scale down to ${target}` : `kept at ${target}`;
      d.reason = `${what} with ${peers}, forward-connected (equal parallelism)${capped}; on its own: ${d.reason}`;
      // A member held back by its ineffective scale-up is reported as such (the autoscaler records it once).
      if (blocked.has(m.id) && wanted > m.parallelism && target <= m.parallelism) d.ineffective = true;
    }
  }
}

/**
 * The smallest parallelism from `p` up to `upper` that suits every member of a forward group: a
 * divisor of the key groups for keyed members (as alignToKeyGroups), of the splits for sources that
 * report them (as alignToSplits); `p` itself when none does.
 */
function alignForGroup(p: number, upper: number, members: readonly VertexTopology[]): number {
  const suits = (q: number, m: VertexTopology) =>
    (!m.keyed || q > m.maxParallelism / 2 || m.maxParallelism % q === 0) && (m.splitCount === undefined || m.splitCount % q === 0);
  if (!members.some((m) => m.keyed || m.splitCount !== undefined)) return p;
  for (let q = p; q <= upper; q++) if (members.every((m) => suits(q, m))) return q;
  return p;
}

/** A rate for messages: 1234.5 → "1235", 0.25 → "0.25". */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return "∞";
  return Math.abs(x) >= 10 ? String(Math.round(x)) : String(Math.round(x * 100) / 100);
}
