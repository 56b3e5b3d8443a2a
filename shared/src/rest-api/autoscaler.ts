import { z } from "zod";

/** One rescale of a vertex, decided or applied. */
export const AutoscalerVertexChange = z.object({
  vertexId: z.string(),
  vertexName: z.string(),
  from: z.number().int(),
  to: z.number().int(),
  reason: z.string(),
});

/** An entry of a job's autoscaling history (newest last). */
export const AutoscalerEvent = z.object({
  time: z.number(),
  /**
   * `scaled`: a rescale completed; `recommended`: a dry run's decision; `ineffective`: a scale-up that
   * raised no throughput, so the vertex is not scaled up again; `skipped`: a decision not applied
   * (cap per hour, too few slots); `failed`: a rescale failed and the autoscaler backs off.
   */
  type: z.enum(["scaled", "recommended", "ineffective", "skipped", "failed"]),
  message: z.string(),
  vertices: z.array(AutoscalerVertexChange),
});
export type AutoscalerEvent = z.infer<typeof AutoscalerEvent>;

/** What the autoscaler measured and concluded about a vertex over its metrics window. */
export const AutoscalerVertexMetrics = z.object({
  numRecordsInPerSecond: z.number(),
  numRecordsOutPerSecond: z.number(),
  busyTimeMsPerSecond: z.number(),
  backPressuredTimeMsPerSecond: z.number(),
  /** The sources' backlog (null: not a source, or one that does not know it). */
  pendingRecords: z.number().nullable(),
  lagGrowthRate: z.number(),
  /** Records per second the vertex can process at its parallelism (null: it was never busy). */
  trueProcessingRate: z.number().nullable(),
  targetDataRate: z.number(),
  catchUpDataRate: z.number(),
  /** Target rate over true processing rate (null: it processes nothing while busy). */
  utilization: z.number().nullable(),
});

/** GET /jobs/:id/autoscaler (Riffle's): the job's autoscaling. */
export const JobAutoscalerInfo = z
  .object({
    enabled: z.boolean(),
    /** `apply`: decisions are applied; `dry-run`: recommended only (job.autoscaler.scaling.enabled: false). */
    mode: z.enum(["apply", "dry-run", "disabled"]),
    state: z.enum(["disabled", "waiting", "stabilizing", "collecting", "monitoring", "rescaling", "backoff"]),
    stateSince: z.number(),
    reason: z.string(),
    metricsWindow: z.object({ samples: z.number().int(), since: z.number().nullable(), full: z.boolean() }),
    lastEvaluation: z.number().nullable(),
    vertices: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        parallelism: z.number().int(),
        recommendedParallelism: z.number().int(),
        reason: z.string().nullable(),
        /** An ineffective scale-up was detected: the vertex is not scaled up again until it is scaled down or rescaled by hand. */
        scaleUpBlocked: z.boolean(),
        /** A scale-down is recommended since then and waits out job.autoscaler.scale-down.interval. */
        scaleDownPendingSince: z.number().nullable(),
        metrics: AutoscalerVertexMetrics.nullable(),
      }),
    ),
    history: z.array(AutoscalerEvent),
    counts: z.object({ rescales: z.number().int(), failures: z.number().int(), skipped: z.number().int() }),
  })
  .meta({ id: "JobAutoscalerInfo" });
export type JobAutoscalerInfo = z.infer<typeof JobAutoscalerInfo>;
