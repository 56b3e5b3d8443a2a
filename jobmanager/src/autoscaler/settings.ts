import { CONFIG_OPTIONS, RiffleError, type ConfigKey, type JobGraph, type RiffleConfig } from "@riffle/shared";

/** The configuration keys of the autoscaler (`job.autoscaler.*`), which a job may also set for itself. */
export type AutoscalerKey = Extract<ConfigKey, `job.autoscaler.${string}`>;

/** The autoscaler's settings for one job, validated: the cluster's `job.autoscaler.*`, overridden by the job's own. */
export interface AutoscalerSettings {
  enabled: boolean;
  /** false: a dry run that only recommends (Flink's job.autoscaler.scaling.enabled). */
  scalingEnabled: boolean;
  intervalMs: number;
  metricsWindowMs: number;
  stabilizationMs: number;
  targetUtilization: number;
  utilizationBoundary: number;
  scaleDownIntervalMs: number;
  scaleUpMaxFactor: number;
  scaleDownMaxFactor: number;
  catchUpMs: number;
  restartMs: number;
  minParallelism: number;
  maxParallelism: number;
  effectivenessDetection: boolean;
  effectivenessThreshold: number;
  maxRescalesPerHour: number;
  failureBackoffMs: number;
}

function isAutoscalerKey(key: string): key is AutoscalerKey {
  return key.startsWith("job.autoscaler.") && Object.hasOwn(CONFIG_OPTIONS, key);
}

/**
 * The settings of a job: the cluster's configuration, then the job's `env.enableAutoscaling(...)`.
 * Throws CONFIG_INVALID naming the key for an unknown key or a bad value the job sets, and for min
 * above max when the job is autoscaled (a job that is not cannot be harmed by them).
 */
export function resolveAutoscalerSettings(cluster: RiffleConfig, graph: Pick<JobGraph, "autoscaler">): AutoscalerSettings {
  const values: { [K in AutoscalerKey]: RiffleConfig[K] } = Object.fromEntries(
    Object.keys(CONFIG_OPTIONS)
      .filter(isAutoscalerKey)
      .map((k) => [k, cluster[k]]),
  ) as never;
  for (const [key, raw] of Object.entries(graph.autoscaler ?? {})) {
    if (!isAutoscalerKey(key)) {
      throw new RiffleError("CONFIG_INVALID", `the job sets "${key}", which is no autoscaler setting; see the job.autoscaler.* keys in docs/configuration.md`);
    }
    const parsed = CONFIG_OPTIONS[key].schema.safeParse(raw);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => i.message).join("; ");
      throw new RiffleError("CONFIG_INVALID", `the job sets ${key} to ${JSON.stringify(raw)}: ${why}`);
    }
    (values as Record<string, unknown>)[key] = parsed.data;
  }
  const min = values["job.autoscaler.vertex.min-parallelism"];
  const max = values["job.autoscaler.vertex.max-parallelism"];
  if (min > max && values["job.autoscaler.enabled"]) {
    throw new RiffleError(
      "CONFIG_INVALID",
      `job.autoscaler.vertex.min-parallelism (${min}) is above job.autoscaler.vertex.max-parallelism (${max}); lower the one or raise the other`,
    );
  }
  return {
    enabled: values["job.autoscaler.enabled"],
    scalingEnabled: values["job.autoscaler.scaling.enabled"],
    intervalMs: values["job.autoscaler.interval"],
    metricsWindowMs: values["job.autoscaler.metrics.window"],
    stabilizationMs: values["job.autoscaler.stabilization.interval"],
    targetUtilization: values["job.autoscaler.target.utilization"],
    utilizationBoundary: values["job.autoscaler.target.utilization.boundary"],
    scaleDownIntervalMs: values["job.autoscaler.scale-down.interval"],
    scaleUpMaxFactor: values["job.autoscaler.scale-up.max-factor"],
    scaleDownMaxFactor: values["job.autoscaler.scale-down.max-factor"],
    catchUpMs: values["job.autoscaler.catch-up.duration"],
    restartMs: values["job.autoscaler.restart.time"],
    minParallelism: min,
    maxParallelism: max,
    effectivenessDetection: values["job.autoscaler.scaling.effectiveness.detection.enabled"],
    effectivenessThreshold: values["job.autoscaler.scaling.effectiveness.threshold"],
    maxRescalesPerHour: values["job.autoscaler.scaling.max-per-hour"],
    failureBackoffMs: values["job.autoscaler.scaling.failure-backoff"],
  };
}

/**
 * Checks the cluster's own `job.autoscaler.*` settings when the JobManager starts (CONFIG_INVALID):
 * they are every job's defaults, and settings that cannot work together would otherwise show only
 * when a job turns autoscaling on. Values out of range are refused by the configuration schema.
 */
export function checkClusterAutoscalerSettings(cluster: RiffleConfig): void {
  const min = cluster["job.autoscaler.vertex.min-parallelism"];
  const max = cluster["job.autoscaler.vertex.max-parallelism"];
  if (min > max) {
    throw new RiffleError(
      "CONFIG_INVALID",
      `the cluster configuration sets job.autoscaler.vertex.min-parallelism (${min}) above job.autoscaler.vertex.max-parallelism (${max}); lower the one or raise the other`,
    );
  }
}

/**
 * Checks a submitted job's autoscaler settings. A job that turns the autoscaler on for itself must
 * checkpoint (rescales go through savepoints, and a job without checkpoints cannot be restored at
 * another parallelism without losing what it did since its start); its settings must be valid.
 * Returns the resolved settings.
 */
export function checkAutoscalerSettings(cluster: RiffleConfig, graph: JobGraph): AutoscalerSettings {
  const settings = resolveAutoscalerSettings(cluster, graph);
  if (graph.autoscaler?.["job.autoscaler.enabled"] === true && settings.enabled && !graph.checkpointing) {
    throw new RiffleError(
      "JOB_INVALID_GRAPH",
      "the job enables autoscaling but not checkpointing: the autoscaler rescales through savepoints and restores state, so call env.enableCheckpointing(ms) too",
    );
  }
  return settings;
}
