import { type Logger, type JobGraph, toRiffleError } from "@riffle/shared";
import type { Clock } from "../clock.js";
import type { JobStatus } from "../store/index.js";
import { type LastScaling, type MetricsSample, type VertexDecision, type VertexEvaluation, decide, evaluate, fmt, summarize, topologyOf } from "./algorithm.js";
import type { AutoscalerSettings } from "./settings.js";

/** What the autoscaler reads of a job. */
export interface AutoscaledJob {
  readonly id: string;
  readonly name: string;
  readonly status: JobStatus;
  readonly graph: JobGraph;
  /** When the job last became RUNNING (a start, a restart or a rescale); undefined if it never did. */
  readonly runningSince: number | undefined;
  /** A stop or rescale with a savepoint is under way, the autoscaler's or a user's. */
  readonly stopInProgress: boolean;
  /** By vertex id: the splits of the sources that report them (at each checkpoint). */
  splitCounts?: Readonly<Record<string, number>>;
  /** The job's vertex metrics now; undefined until every subtask runs and reported. */
  sample(at: number): MetricsSample | undefined;
}

/** How decisions reach the job and the cluster. */
export interface ScalingRealizer {
  /** Rescales vertices (id → parallelism); resolves once the job runs at the new parallelism, rejects when the rescale failed. */
  rescale(jobId: string, parallelisms: Record<string, number>): Promise<void>;
  /** Slots the job could hold: those it holds, the free ones, and those TaskManager providers can still add (none while they fail). */
  obtainableSlots(jobId: string): number;
  /** Why the TaskManager providers cannot add TaskManagers now (failing, backing off); undefined when they can. */
  providerHold?(): string | undefined;
}

/**
 * The autoscaler's states for one job:
 *
 *   waiting ──RUNNING──► stabilizing ──after stabilization.interval──► collecting ──window full──► monitoring
 *      ▲                                                                                   │ decision
 *      └──────────── rescaling ◄──────────────────────────────────────────────────────────┘
 *                        │ failed
 *                        └──► backoff ──after the backoff──► stabilizing / collecting …
 *
 * `disabled` is final: autoscaling is off for the job, or it cannot be autoscaled (the reason says why).
 */
export type AutoscalerStateName = "disabled" | "waiting" | "stabilizing" | "collecting" | "monitoring" | "rescaling" | "backoff";

export interface VertexChange {
  vertexId: string;
  vertexName: string;
  from: number;
  to: number;
  reason: string;
}

/** One entry of a job's autoscaling history; also logged, and counted in metrics. */
export interface AutoscalerEvent {
  time: number;
  /**
   * `scaled`: a rescale completed; `recommended`: a dry run's decision; `ineffective`: a scale-up
   * that did not help, so the vertex is not scaled up again; `skipped`: a decision not applied (cap
   * per hour, too few slots); `failed`: a rescale failed, the autoscaler backs off.
   */
  type: "scaled" | "recommended" | "ineffective" | "skipped" | "failed";
  message: string;
  vertices: VertexChange[];
}

const MAX_HISTORY = 100;
/** Events kept in the job's record: the newest, so a new leader shows what led to the job's parallelism. */
const MAX_RECORDED_HISTORY = 20;
const HOUR_MS = 3_600_000;

/**
 * The autoscaler's state kept with the job's record in the job store (files or etcd), so that a new
 * leader goes on where the last one stopped: the per-hour cap counts the rescales before the leader
 * change, a vertex found ineffective stays blocked, and the history shows the earlier decisions.
 * Written with each event (a few an hour at most); metrics windows are not kept (they are collected
 * again).
 */
export interface AutoscalerRecord {
  /** The newest events, oldest first (at most 20). */
  history: AutoscalerEvent[];
  /** When the rescales of the last hour started (job.autoscaler.scaling.max-per-hour counts them). */
  rescaleTimes: number[];
  counts: { rescales: number; failures: number; skipped: number };
  /** Each vertex's parallelism when this was written: lastScalings and ineffective hold for it only. */
  signature: string;
  /** The last scale-up of each vertex (ineffective-scaling detection). */
  lastScalings: Record<string, LastScaling>;
  /** Vertices whose last scale-up was found ineffective. */
  ineffective: string[];
}

/**
 * The autoscaler of one job: collects its vertex metrics every interval (after the stabilization
 * interval that follows each start or rescale), evaluates them once the metrics window is full, and
 * applies or records the decision. Driven by `tick`, which the Autoscaler calls often; time comes
 * from the injected clock, so tests replay metric series by hand.
 */
export class JobAutoscaler {
  readonly history: AutoscalerEvent[] = [];
  /** Rescales applied, rescales that failed, and decisions skipped (cap, slots), over the job's leaders (kept in its record). */
  readonly counts = { rescales: 0, failures: 0, skipped: 0 };
  private state: { name: AutoscalerStateName; since: number; reason: string };
  private samples: MetricsSample[] = [];
  private collectingSince: number | undefined;
  private lastCollectAt = Number.NEGATIVE_INFINITY;
  private runningSince: number | undefined;
  /** The parallelism of every vertex the autoscaler last saw, and the one its own rescale will bring. */
  private signature: string | undefined;
  private ownSignature: string | undefined;
  private lastScalings: Record<string, LastScaling> = {};
  /** Scale-downs waiting out the delay: since when, and the highest parallelism recommended by windows wholly inside the delay. */
  private pendingScaleDowns: Record<string, { since: number; recommended: number | undefined }> = {};
  private readonly ineffectiveReported = new Set<string>();
  private rescaleTimes: number[] = [];
  private failuresInRow = 0;
  private backoffUntil = 0;
  private backoffWhy = "after a failed rescale";
  private rescaling = false;
  private lastDecisionKey: string | undefined;
  private lastEvaluation: { at: number; evaluations: Record<string, VertexEvaluation>; decisions: Record<string, VertexDecision> } | undefined;

  constructor(
    readonly jobId: string,
    /** The job's settings, or why it is not autoscaled. */
    readonly settings: AutoscalerSettings | { disabled: string },
    private readonly deps: {
      clock: Clock;
      logger: Logger;
      realizer: ScalingRealizer;
      /** Keeps the autoscaler's record with the job's (the job store); called after each event. */
      persist?: (record: AutoscalerRecord) => void;
    },
    /** What an earlier leader's autoscaler of this job recorded. */
    restored?: AutoscalerRecord,
  ) {
    const now = deps.clock.now();
    this.state = "disabled" in settings ? { name: "disabled", since: now, reason: settings.disabled } : { name: "waiting", since: now, reason: "" };
    if (restored) this.restore(restored);
  }

  private restore(r: AutoscalerRecord): void {
    this.history.push(...r.history);
    Object.assign(this.counts, r.counts);
    this.rescaleTimes = [...r.rescaleTimes];
    // Valid for the parallelism they were written at: tick() drops them when the job now runs at another.
    this.signature = r.signature;
    this.lastScalings = { ...r.lastScalings };
    for (const id of r.ineffective) this.ineffectiveReported.add(id);
  }

  /** The record a new leader restores this autoscaler from. */
  snapshot(): AutoscalerRecord {
    return {
      history: this.history.slice(-MAX_RECORDED_HISTORY),
      rescaleTimes: this.rescaleTimes.filter((t) => t > this.deps.clock.now() - HOUR_MS),
      counts: { ...this.counts },
      signature: this.ownSignature ?? this.signature ?? "",
      lastScalings: { ...this.lastScalings },
      ineffective: [...this.ineffectiveReported],
    };
  }

  get stateName(): AutoscalerStateName {
    return this.state.name;
  }

  /** Called every so often: collects, evaluates and acts as the state allows. */
  tick(job: AutoscaledJob): void {
    const settings = this.settings;
    if ("disabled" in settings) return;
    const now = this.deps.clock.now();
    if (this.rescaling) return;
    const signature = signatureOf(job.graph);
    if (signature !== this.signature) {
      if (this.signature !== undefined && signature !== this.ownSignature) {
        this.deps.logger.info({ jobId: this.jobId, parallelism: signature }, "the job was rescaled outside the autoscaler; starting its metrics over");
        this.lastScalings = {};
        this.ineffectiveReported.clear();
      }
      this.signature = signature;
      this.ownSignature = undefined;
      this.pendingScaleDowns = {};
      this.resetWindow();
    }
    if (job.status !== "RUNNING" || job.stopInProgress) {
      this.resetWindow();
      this.setState("waiting", job.stopInProgress ? "the job is being stopped or rescaled" : `the job is ${job.status}`);
      return;
    }
    if (now < this.backoffUntil) {
      this.setState("backoff", `${this.backoffWhy}; trying again at ${new Date(this.backoffUntil).toISOString()}`);
      return;
    }
    const runningSince = job.runningSince ?? now;
    if (runningSince !== this.runningSince) {
      this.runningSince = runningSince;
      this.resetWindow();
    }
    if (now < runningSince + settings.stabilizationMs) {
      this.setState("stabilizing", `metrics are collected from ${new Date(runningSince + settings.stabilizationMs).toISOString()}`);
      return;
    }
    // Collect at the job's own interval (the Autoscaler ticks more often); a tenth of slack for timers.
    if (now - this.lastCollectAt < settings.intervalMs * 0.9) return;
    const sample = job.sample(now);
    if (!sample) {
      this.setState("collecting", "waiting for every subtask's metrics");
      return;
    }
    this.lastCollectAt = now;
    this.samples.push(sample);
    this.collectingSince ??= now;
    while (this.samples.length > 0 && this.samples[0]!.at < now - settings.metricsWindowMs) this.samples.shift();
    if (now - this.collectingSince < settings.metricsWindowMs) {
      this.setState("collecting", `the metrics window is full at ${new Date(this.collectingSince + settings.metricsWindowMs).toISOString()}`);
      return;
    }
    this.evaluate(job, settings, now);
  }

  private evaluate(job: AutoscaledJob, settings: AutoscalerSettings, now: number): void {
    const topology = topologyOf(job.graph, job.splitCounts);
    const evaluations = evaluate(topology, summarize(this.samples), settings);
    const decisions = decide(topology, evaluations, settings, this.lastScalings);
    this.lastEvaluation = { at: now, evaluations, decisions };
    const names = new Map(topology.map((v) => [v.id, v.name]));
    const change = (d: VertexDecision, to = d.recommended): VertexChange => ({
      vertexId: d.vertexId,
      vertexName: names.get(d.vertexId) ?? d.vertexId,
      from: d.current,
      to,
      reason: d.reason,
    });

    const apply: VertexChange[] = [];
    for (const d of Object.values(decisions)) {
      if (d.ineffective && !this.ineffectiveReported.has(d.vertexId)) {
        this.ineffectiveReported.add(d.vertexId);
        this.record({ type: "ineffective", message: `${names.get(d.vertexId)}: ${d.reason}`, vertices: [change(d, d.current)] });
      }
      if (d.direction === "down") {
        const pending = (this.pendingScaleDowns[d.vertexId] ??= { since: now, recommended: undefined });
        // Flink's scale-down delay: the highest parallelism recommended while the delay runs. Only
        // windows wholly inside the delay count: the first ones still average in the load from
        // before the drop, and would size a step down too high, bringing a second scale-down later.
        if (now - pending.since >= settings.metricsWindowMs) pending.recommended = Math.max(pending.recommended ?? 0, d.recommended);
        if (now - pending.since >= settings.scaleDownIntervalMs) {
          const to = Math.max(pending.recommended ?? 0, d.recommended);
          if (to < d.current) apply.push(change(d, to));
        }
      } else {
        delete this.pendingScaleDowns[d.vertexId];
        if (d.direction === "up") apply.push(change(d));
      }
    }
    if (apply.length === 0) {
      const waiting = Object.keys(this.pendingScaleDowns).length;
      this.setState("monitoring", waiting > 0 ? `${waiting} vertices wait out the scale-down delay` : "every vertex is sized right");
      return;
    }
    const key = apply.map((c) => `${c.vertexId}:${c.from}->${c.to}`).join(",");
    const summary = apply.map((c) => `${c.vertexName} ${c.from} → ${c.to}`).join(", ");
    if (!settings.scalingEnabled) {
      this.recordOnce(key, { type: "recommended", message: `dry run: would rescale ${summary}`, vertices: apply });
      this.setState("monitoring", "dry run (job.autoscaler.scaling.enabled is false): recommending only");
      return;
    }
    this.rescaleTimes = this.rescaleTimes.filter((t) => t > now - HOUR_MS);
    if (this.rescaleTimes.length >= settings.maxRescalesPerHour) {
      this.recordOnce(key, {
        type: "skipped",
        message: `not rescaling ${summary}: ${this.rescaleTimes.length} rescales in the last hour reached job.autoscaler.scaling.max-per-hour`,
        vertices: apply,
      });
      this.setState("monitoring", "the cap of rescales per hour is reached");
      return;
    }
    const target = new Map(topology.map((v) => [v.id, v.parallelism]));
    for (const c of apply) target.set(c.vertexId, c.to);
    const slotsNeeded = Math.max(...target.values());
    const obtainable = this.deps.realizer.obtainableSlots(this.jobId);
    if (slotsNeeded > obtainable) {
      const hold = this.deps.realizer.providerHold?.();
      if (hold !== undefined) {
        // The slots would have to come from a provider that cannot start TaskManagers now: rescaling
        // would stop the job for slots that do not come. Keep the parallelism and look again later.
        this.backoffUntil = now + settings.failureBackoffMs;
        this.backoffWhy = `scale-up held: provider failing: ${hold}`;
        this.recordOnce(`held:${key}`, {
          type: "skipped",
          message: `scale-up held: provider failing: ${hold}; not rescaling ${summary} (it needs ${slotsNeeded} slots and the cluster offers ${obtainable}); the job keeps its parallelism, and the autoscaler looks again in ${fmt(settings.failureBackoffMs / 1000)} s`,
          vertices: apply,
        });
        this.setState("backoff", `${this.backoffWhy}; trying again at ${new Date(this.backoffUntil).toISOString()}`);
        return;
      }
      this.recordOnce(key, {
        type: "skipped",
        message: `not rescaling ${summary}: it needs ${slotsNeeded} slots and the cluster can offer ${obtainable} (start TaskManagers, or raise resourcemanager.taskmanagers.max)`,
        vertices: apply,
      });
      this.setState("monitoring", "too few slots for the decision");
      return;
    }
    this.rescale(job, topology.length > 0 ? apply : [], target, evaluations, settings, now);
  }

  private rescale(
    job: AutoscaledJob,
    apply: VertexChange[],
    target: Map<string, number>,
    evaluations: Record<string, VertexEvaluation>,
    settings: AutoscalerSettings,
    startedAt: number,
  ): void {
    this.rescaling = true;
    this.lastDecisionKey = undefined;
    const summary = apply.map((c) => `${c.vertexName} ${c.from} → ${c.to}`).join(", ");
    this.setState("rescaling", summary);
    this.deps.logger.info({ jobId: this.jobId, vertices: apply }, `autoscaler: rescaling job ${job.name} (${this.jobId}): ${summary}`);
    const expected = job.graph.vertices.map((v) => `${v.id}=${target.get(v.id) ?? v.parallelism}`).join(",");
    this.ownSignature = expected;
    this.deps.realizer.rescale(this.jobId, Object.fromEntries(apply.map((c) => [c.vertexId, c.to]))).then(
      () => {
        const now = this.deps.clock.now();
        this.rescaling = false;
        this.failuresInRow = 0;
        this.rescaleTimes.push(startedAt);
        this.counts.rescales++;
        for (const c of apply) {
          const tpr = evaluations[c.vertexId]?.trueProcessingRate ?? 0;
          if (c.to > c.from && Number.isFinite(tpr)) {
            this.lastScalings[c.vertexId] = {
              at: now,
              from: c.from,
              to: c.to,
              trueProcessingRateBefore: tpr,
              expectedTrueProcessingRate: (tpr * c.to) / c.from,
            };
          } else {
            delete this.lastScalings[c.vertexId];
            this.ineffectiveReported.delete(c.vertexId);
          }
        }
        this.record({ type: "scaled", message: `rescaled ${summary} in ${fmt((now - startedAt) / 1000)} s`, vertices: apply });
        this.setState("waiting", "the rescaled job starts");
      },
      (err: unknown) => {
        const now = this.deps.clock.now();
        this.rescaling = false;
        this.ownSignature = undefined;
        this.failuresInRow++;
        this.counts.failures++;
        const backoff = Math.min(settings.failureBackoffMs * 2 ** (this.failuresInRow - 1), HOUR_MS);
        this.backoffUntil = now + backoff;
        this.backoffWhy = "after a failed rescale";
        const e = toRiffleError(err);
        this.record({
          type: "failed",
          message: `rescaling ${summary} failed (${e.code}: ${e.message}); the job keeps its parallelism, and the autoscaler tries again in ${fmt(backoff / 1000)} s`,
          vertices: apply,
        });
        this.setState("backoff", `${this.backoffWhy}; trying again at ${new Date(this.backoffUntil).toISOString()}`);
      },
    );
  }

  /** Everything the REST API shows of this job's autoscaling. */
  status(graph: JobGraph): AutoscalerStatus {
    const settings = this.settings;
    const disabled = "disabled" in settings;
    const e = this.lastEvaluation;
    return {
      enabled: !disabled,
      mode: disabled ? "disabled" : settings.scalingEnabled ? "apply" : "dry-run",
      state: this.state.name,
      stateSince: this.state.since,
      reason: this.state.reason,
      metricsWindow: {
        samples: this.samples.length,
        since: this.collectingSince ?? null,
        full: !disabled && this.collectingSince !== undefined && this.deps.clock.now() - this.collectingSince >= settings.metricsWindowMs,
      },
      lastEvaluation: e?.at ?? null,
      vertices: graph.vertices.map((v) => {
        const d = e?.decisions[v.id];
        const m = e?.evaluations[v.id];
        const fresh = d !== undefined && d.current === v.parallelism;
        return {
          id: v.id,
          name: v.name,
          parallelism: v.parallelism,
          recommendedParallelism: fresh ? d.recommended : v.parallelism,
          reason: fresh ? d.reason : null,
          scaleUpBlocked: this.ineffectiveReported.has(v.id),
          scaleDownPendingSince: this.pendingScaleDowns[v.id]?.since ?? null,
          metrics:
            fresh && m
              ? {
                  numRecordsInPerSecond: m.summary.inputRate,
                  numRecordsOutPerSecond: m.summary.outputRate,
                  busyTimeMsPerSecond: m.summary.busyTimeMsPerSecond,
                  backPressuredTimeMsPerSecond: m.summary.backPressuredTimeMsPerSecond,
                  pendingRecords: m.summary.pendingRecords ?? null,
                  lagGrowthRate: m.summary.lagGrowthRate,
                  trueProcessingRate: Number.isFinite(m.trueProcessingRate) ? m.trueProcessingRate : null,
                  targetDataRate: m.targetDataRate,
                  catchUpDataRate: m.catchUpDataRate,
                  utilization: Number.isFinite(m.utilization) ? m.utilization : null,
                }
              : null,
        };
      }),
      history: [...this.history],
      counts: { ...this.counts },
    };
  }

  /** The latest evaluation of a vertex, for the metrics endpoint. */
  evaluationOf(vertexId: string): { evaluation: VertexEvaluation; decision: VertexDecision } | undefined {
    const e = this.lastEvaluation;
    const evaluation = e?.evaluations[vertexId];
    const decision = e?.decisions[vertexId];
    return evaluation && decision ? { evaluation, decision } : undefined;
  }

  private resetWindow(): void {
    this.samples = [];
    this.collectingSince = undefined;
    this.lastCollectAt = Number.NEGATIVE_INFINITY;
  }

  private setState(name: AutoscalerStateName, reason: string): void {
    if (this.state.name === name) {
      this.state.reason = reason;
      return;
    }
    const now = this.deps.clock.now();
    this.deps.logger.debug({ jobId: this.jobId, from: this.state.name, to: name, msInPrevious: now - this.state.since, reason }, "autoscaler state changed");
    this.state = { name, since: now, reason };
  }

  /** Records a decision that is not applied, once for as long as it stays the same decision. */
  private recordOnce(key: string, event: Omit<AutoscalerEvent, "time">): void {
    if (this.lastDecisionKey === key) return;
    this.lastDecisionKey = key;
    if (event.type === "skipped") this.counts.skipped++;
    this.record(event);
  }

  private record(event: Omit<AutoscalerEvent, "time">): void {
    const full: AutoscalerEvent = { time: this.deps.clock.now(), ...event };
    this.history.push(full);
    if (this.history.length > MAX_HISTORY) this.history.splice(0, this.history.length - MAX_HISTORY);
    const log = event.type === "failed" || event.type === "skipped" ? "warn" : "info";
    this.deps.logger[log]({ jobId: this.jobId, autoscaler: event.type, vertices: event.vertices }, `autoscaler: ${event.message}`);
    this.deps.persist?.(this.snapshot());
  }
}

/** Each vertex's parallelism, in vertex order: changes when the job is rescaled. */
function signatureOf(graph: JobGraph): string {
  return graph.vertices.map((v) => `${v.id}=${v.parallelism}`).join(",");
}

/** The autoscaling of one job, as GET /jobs/:id/autoscaler shows it. */
export interface AutoscalerStatus {
  enabled: boolean;
  mode: "apply" | "dry-run" | "disabled";
  state: AutoscalerStateName;
  stateSince: number;
  reason: string;
  metricsWindow: { samples: number; since: number | null; full: boolean };
  lastEvaluation: number | null;
  vertices: Array<{
    id: string;
    name: string;
    parallelism: number;
    recommendedParallelism: number;
    reason: string | null;
    scaleUpBlocked: boolean;
    scaleDownPendingSince: number | null;
    metrics: {
      numRecordsInPerSecond: number;
      numRecordsOutPerSecond: number;
      busyTimeMsPerSecond: number;
      backPressuredTimeMsPerSecond: number;
      pendingRecords: number | null;
      lagGrowthRate: number;
      trueProcessingRate: number | null;
      targetDataRate: number;
      catchUpDataRate: number;
      utilization: number | null;
    } | null;
  }>;
  history: AutoscalerEvent[];
  counts: { rescales: number; failures: number; skipped: number };
}
