import { type JobGraph, type Logger, type RiffleConfig, componentLogger, toRiffleError } from "@riffle/shared";
import type { Cancel, Clock } from "../clock.js";
import type { MetricsHistory } from "../metrics/index.js";
import type { JobMaster } from "../scheduler/index.js";
import type { MetricsSample } from "./algorithm.js";
import { collectSample } from "./collect.js";
import { type AutoscaledJob, JobAutoscaler, type ScalingRealizer } from "./job-autoscaler.js";
import { checkAutoscalerSettings, resolveAutoscalerSettings } from "./settings.js";

/** What the autoscaler needs of the dispatcher. */
export interface AutoscalerJobs {
  list(): JobMaster[];
  /** Starts a rescale of single vertices and resolves once the job runs so, rejecting when it failed. */
  rescaleVertices(jobId: string, parallelisms: Record<string, number>): Promise<void>;
}

export interface AutoscalerOptions {
  config: RiffleConfig;
  jobs: AutoscalerJobs;
  history: MetricsHistory;
  /** Slots a job could hold: its own, the free ones, and those providers can still start. */
  obtainableSlots: (jobId: string) => number;
  /** Why TaskManager providers cannot add TaskManagers now (failing, backing off); undefined when they can or there are none. */
  providerHold?: () => string | undefined;
  clock: Clock;
  logger: Logger;
}

/** How often the autoscaler looks at its jobs; each job collects and evaluates at its own job.autoscaler.interval. */
const TICK_MS = 1_000;

/**
 * The JobManager's autoscaler: one JobAutoscaler per job that has not ended, created when the job is
 * first seen, driven by one timer. Jobs opt in with `env.enableAutoscaling()` or the cluster's
 * `job.autoscaler.enabled`; see job-autoscaler.ts for what happens to each.
 */
export class Autoscaler {
  private readonly perJob = new Map<string, JobAutoscaler>();
  private cancelTimer: Cancel | undefined;
  private closed = false;
  private readonly realizer: ScalingRealizer;
  /**
   * `RIFFLE_DEBUG=autoscaler-input`: a debug line per job and tick with what its JobAutoscaler read
   * (see `input`); bench/dev/record-autoscaler-series.ts turns them into the unit tests' fixtures.
   */
  private readonly inputLog: Logger;
  /** What the realizer answered during the tick being recorded. */
  private reading: AutoscalerInput | undefined;

  constructor(private readonly options: AutoscalerOptions) {
    this.inputLog = componentLogger(options.logger, "autoscaler-input");
    this.realizer = {
      rescale: (jobId, parallelisms) => options.jobs.rescaleVertices(jobId, parallelisms),
      obtainableSlots: (jobId) => {
        const slots = options.obtainableSlots(jobId);
        if (this.reading) this.reading.slots = slots;
        return slots;
      },
      providerHold: () => {
        const hold = options.providerHold?.();
        if (this.reading) this.reading.hold = hold ?? null;
        return hold;
      },
    };
  }

  /**
   * Refuses a submission whose autoscaling cannot work: settings out of range (CONFIG_INVALID), or
   * autoscaling asked for by the job without checkpoints (JOB_INVALID_GRAPH).
   */
  checkGraph(graph: JobGraph): void {
    checkAutoscalerSettings(this.options.config, graph);
  }

  start(): void {
    const tick = () => {
      if (this.closed) return;
      try {
        this.tick();
      } catch (err) {
        this.options.logger.error({ err: toRiffleError(err).message }, "autoscaler tick failed");
      }
      this.cancelTimer = this.options.clock.schedule(tick, TICK_MS);
    };
    this.cancelTimer = this.options.clock.schedule(tick, TICK_MS);
  }

  close(): void {
    this.closed = true;
    this.cancelTimer?.();
  }

  /** The job's autoscaler, once the job was seen running (undefined for an unknown job or one that ended before it was). */
  forJob(jobId: string): JobAutoscaler | undefined {
    return this.perJob.get(jobId);
  }

  /** Every job's autoscaler, for metrics. */
  all(): JobAutoscaler[] {
    return [...this.perJob.values()];
  }

  /**
   * One round over the jobs (the timer's; tests call it directly). An ended job's autoscaler is kept,
   * no longer ticked, as long as the dispatcher keeps the job: its history stays readable.
   */
  tick(): void {
    const known = new Set<string>();
    for (const job of this.options.jobs.list()) {
      known.add(job.id);
      // An ended job's autoscaler only notes that the job ended.
      const a = job.isTerminal ? this.perJob.get(job.id) : this.autoscalerOf(job);
      if (a) this.tickJob(a, job);
    }
    for (const id of this.perJob.keys()) if (!known.has(id)) this.perJob.delete(id);
  }

  /** Ticks one job's autoscaler; with the input log on, logs what it read of the job. */
  private tickJob(a: JobAutoscaler, job: JobMaster): void {
    const view = this.view(job);
    if (!this.inputLog.isLevelEnabled("debug")) {
      a.tick(view);
      return;
    }
    const g = view.graph;
    const input: AutoscalerInput = {
      at: this.options.clock.now(),
      status: view.status,
      runningSince: view.runningSince ?? null,
      stopInProgress: view.stopInProgress,
      graph: {
        maxParallelism: g.maxParallelism,
        checkpointing: g.checkpointing,
        autoscaler: g.autoscaler,
        vertices: g.vertices.map(({ operators: _, ...v }) => v),
        edges: g.edges,
      },
      splitCounts: view.splitCounts,
    };
    this.reading = input;
    try {
      a.tick({
        ...view,
        sample: (at) => {
          const sample = view.sample(at);
          input.sample = sample ?? null;
          return sample;
        },
      });
    } finally {
      this.reading = undefined;
    }
    this.inputLog.debug({ jobId: job.id, autoscalerInput: input }, "autoscaler input");
  }

  private autoscalerOf(job: JobMaster): JobAutoscaler {
    let a = this.perJob.get(job.id);
    if (a) return a;
    const logger = this.options.logger.child({ jobId: job.id });
    let settings: ConstructorParameters<typeof JobAutoscaler>[1];
    try {
      const resolved = resolveAutoscalerSettings(this.options.config, job.graph);
      if (!resolved.enabled) settings = { disabled: "autoscaling is off for this job (job.autoscaler.enabled, env.enableAutoscaling())" };
      else if (!job.graph.checkpointing) {
        settings = {
          disabled: "the job takes no checkpoints; the autoscaler rescales through savepoints and leaves such jobs alone (call env.enableCheckpointing(ms))",
        };
        logger.warn(`autoscaler: not autoscaling job ${job.record.name} (${job.id}): ${settings.disabled}`);
      } else settings = resolved;
    } catch (err) {
      settings = { disabled: toRiffleError(err).message };
      logger.warn(`autoscaler: not autoscaling job ${job.record.name} (${job.id}): ${settings.disabled}`);
    }
    // A job taken over from an earlier leader goes on with that leader's autoscaler record (cap, history, blocked vertices).
    a = new JobAutoscaler(
      job.id,
      settings,
      { clock: this.options.clock, logger, realizer: this.realizer, persist: (record) => job.saveAutoscalerRecord(record) },
      job.record.autoscaler,
    );
    this.perJob.set(job.id, a);
    return a;
  }

  private view(job: JobMaster): AutoscaledJob {
    const history = this.options.history;
    return {
      id: job.id,
      name: job.record.name,
      status: job.status,
      graph: job.graph,
      runningSince: job.record.statusTimestamps.RUNNING,
      stopInProgress: job.stopInProgress,
      splitCounts: job.sourceSplitCounts(),
      sample: (at) => collectSample(job, history, at),
    };
  }
}

/**
 * What a JobAutoscaler read of its job in one tick (the AutoscaledJob and ScalingRealizer it was
 * given), as the input log records it: the graph without its operators, the sample when it asked
 * for one (null: none was ready), the slots and provider hold when it asked.
 */
export interface AutoscalerInput {
  at: number;
  status: AutoscaledJob["status"];
  runningSince: number | null;
  stopInProgress: boolean;
  graph: Pick<JobGraph, "maxParallelism" | "checkpointing" | "autoscaler" | "edges"> & { vertices: Array<Omit<JobGraph["vertices"][number], "operators">> };
  splitCounts: Readonly<Record<string, number>> | undefined;
  sample?: MetricsSample | null;
  slots?: number;
  hold?: string | null;
}
