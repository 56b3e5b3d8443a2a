import type { Registry } from "@riffle/shared";
import { currentGauge } from "../metrics/current-gauge.js";
import type { Dispatcher } from "../dispatcher/index.js";
import type { Autoscaler } from "./autoscaler.js";

/**
 * The autoscaler's metrics on the JobManager's /metrics: per autoscaled job its rescales, failures
 * and skipped decisions, and per vertex the parallelism, the recommendation and the rates behind it.
 */
export function registerAutoscalerMetrics(metrics: Registry, leader: () => { autoscaler: Autoscaler; dispatcher: Dispatcher } | undefined): void {
  type JobAutoscaler = ReturnType<Autoscaler["all"]>[number];
  const jobGauge = (name: string, help: string, value: (a: JobAutoscaler) => number) =>
    currentGauge(metrics, { name, help, labelNames: ["job_id"] }, leader, (set, { autoscaler }) => {
      for (const a of autoscaler.all()) if (a.stateName !== "disabled") set({ job_id: a.jobId }, value(a));
    });
  jobGauge("riffle_autoscaler_rescales", "Rescales the autoscaler applied to the job since the JobManager started", (a) => a.counts.rescales);
  jobGauge("riffle_autoscaler_failures", "Autoscaler rescales of the job that failed since the JobManager started", (a) => a.counts.failures);
  jobGauge("riffle_autoscaler_skipped", "Autoscaler decisions not applied (cap per hour, too few slots)", (a) => a.counts.skipped);

  const vertexGauge = (name: string, help: string, value: (e: NonNullable<ReturnType<JobAutoscaler["evaluationOf"]>>) => number | undefined) =>
    currentGauge(metrics, { name, help, labelNames: ["job_id", "vertex_id", "vertex_name"] }, leader, (set, { autoscaler, dispatcher }) => {
      for (const a of autoscaler.all()) {
        if (a.stateName === "disabled") continue;
        let job: ReturnType<Dispatcher["job"]>;
        try {
          job = dispatcher.job(a.jobId);
        } catch {
          continue;
        }
        for (const v of job.graph.vertices) {
          const e = a.evaluationOf(v.id);
          if (!e || e.decision.current !== v.parallelism) continue;
          const x = value(e);
          if (x !== undefined && Number.isFinite(x)) set({ job_id: a.jobId, vertex_id: v.id, vertex_name: v.name }, x);
        }
      }
    });
  vertexGauge("riffle_autoscaler_parallelism", "The vertex's parallelism when the autoscaler last evaluated it", (e) => e.decision.current);
  vertexGauge("riffle_autoscaler_recommended_parallelism", "The parallelism the autoscaler recommends for the vertex", (e) => e.decision.recommended);
  vertexGauge(
    "riffle_autoscaler_true_processing_rate",
    "Records per second the vertex can process at its parallelism (from busy time)",
    (e) => e.evaluation.trueProcessingRate,
  );
  vertexGauge(
    "riffle_autoscaler_target_data_rate",
    "Records per second the vertex must take (sources: input rate plus backlog growth)",
    (e) => e.evaluation.targetDataRate,
  );
  vertexGauge("riffle_autoscaler_utilization", "Target rate over true processing rate", (e) => e.evaluation.utilization);
}
