/**
 * The autoscaler (Flink's Kubernetes operator autoscaler, after DS2): per job and opt-in, it sizes
 * each vertex for its target rate from measured busy time, rates and source backlogs, and applies
 * decisions by rescaling the job through a savepoint.
 *
 * ```ts
 * const autoscaler = new Autoscaler({ config, jobs, history, obtainableSlots, clock, logger });
 * autoscaler.start();
 * autoscaler.forJob(jobId)?.status(graph); // what GET /jobs/:id/autoscaler shows
 * ```
 */
export { Autoscaler, type AutoscalerJobs, type AutoscalerOptions } from "./autoscaler.js";
export {
  JobAutoscaler,
  type AutoscaledJob,
  type AutoscalerEvent,
  type AutoscalerStateName,
  type AutoscalerStatus,
  type ScalingRealizer,
  type VertexChange,
} from "./job-autoscaler.js";
export {
  alignToKeyGroups,
  decide,
  evaluate,
  summarize,
  topologyOf,
  type LastScaling,
  type MetricsSample,
  type VertexDecision,
  type VertexEvaluation,
  type VertexSample,
  type VertexSummary,
  type VertexTopology,
} from "./algorithm.js";
export { checkAutoscalerSettings, checkClusterAutoscalerSettings, resolveAutoscalerSettings, type AutoscalerSettings } from "./settings.js";
export { registerAutoscalerMetrics } from "./prometheus.js";
export { registerAutoscalerRoutes } from "./rest.js";
