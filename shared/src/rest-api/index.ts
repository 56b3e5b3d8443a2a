/**
 * The JobManager's REST API, defined once: every request and response as a zod schema. The
 * JobManager validates requests and serializes responses with these schemas (fastify's zod type
 * provider) and publishes them as OpenAPI at `/openapi.json`; the CLI, the test harness and the
 * dashboard import the types. Shapes and routes are Flink's wherever Flink has the same thing, so
 * tools written for Flink's REST API read Riffle's; each route says whether it is Flink's or Riffle's.
 *
 * ```ts
 * import { routes, type JobDetails } from "@riffle/shared/rest-api";
 * const res = await fetch(`${base}${routes.jobDetails.url.replace(":id", jobId)}`);
 * const job = (await res.json()) as JobDetails;
 * ```
 */
import type { z } from "zod";
import { JobAutoscalerInfo } from "./autoscaler.js";
import { CheckpointConfig, CheckpointingStatistics, CheckpointStatistics } from "./checkpoints.js";
import { ClusterConfiguration, ClusterOverview, DashboardConfiguration, HighAvailabilityInfo, TaskManagerDetailsInfo, TaskManagersInfo } from "./cluster.js";
import {
  AggregatedMetrics,
  AggregatedMetricsQuery,
  CheckpointParams,
  ErrorBody,
  JobIdParams,
  MetricCollection,
  MetricsQuery,
  TaskManagerIdParams,
  TriggerParams,
  VertexParams,
} from "./common.js";
import {
  CancelQuery,
  JobDetails,
  JobExceptions,
  JobIdsWithStatus,
  JobMetricsHistory,
  JobPlanInfo,
  JobVertexBackPressure,
  JobVertexDetails,
  MetricsHistoryQuery,
  MultipleJobsDetails,
  OperationResult,
  RescaleQuery,
  ResultsPage,
  ResultsQuery,
  SavepointTriggerRequest,
  StopWithSavepointRequest,
  SubmitJobRequest,
  SubmitJobResponse,
  TriggerResponse,
} from "./jobs.js";

export * from "./autoscaler.js";
export * from "./checkpoints.js";
export * from "./cluster.js";
export * from "./common.js";
export * from "./jobs.js";
export { backPressureLevel } from "./levels.js";

/**
 * Who may call a route when `rest.auth.*` is configured: `open` always (what the dashboard needs to
 * start and to ask for credentials), `read-only` any valid credentials, `operator` only an
 * operator's. Without auth configured every route is open.
 */
export type Access = "open" | "read-only" | "operator";

export interface RouteSpec {
  method: "GET" | "POST" | "PATCH";
  /** fastify's path syntax (`:id`). */
  url: string;
  /** Whether the route and its shapes are Flink's, or Riffle's own. */
  origin: "flink" | "riffle";
  access: Access;
  /**
   * Served by every JobManager of a highly available cluster, standbys included. Any other route of a
   * standby redirects to the leader (307), or answers 503 NOT_LEADER when no leader is known.
   */
  standby?: boolean;
  summary: string;
  schema: {
    params?: z.ZodType;
    querystring?: z.ZodType;
    body?: z.ZodType;
    response: Record<number | string, z.ZodType>;
  };
}

const errors = { "4xx": ErrorBody, "5xx": ErrorBody };
const ok = (schema: z.ZodType) => ({ 200: schema, ...errors });
const accepted = (schema: z.ZodType) => ({ 202: schema, ...errors });
const route = <S extends RouteSpec>(spec: S): S => spec;

/** Every route of the REST API (the dashboard's static files and `/openapi.json` aside). */
export const routes = {
  config: route({
    method: "GET",
    url: "/config",
    origin: "flink",
    access: "open",
    standby: true,
    summary: "The dashboard's configuration: refresh interval, enabled features, and (Riffle's) whether and how the caller is authorized.",
    schema: { response: ok(DashboardConfiguration) },
  }),
  overview: route({
    method: "GET",
    url: "/overview",
    origin: "flink",
    access: "read-only",
    standby: true,
    summary: "The cluster at a glance: TaskManagers, slots, jobs by outcome. A standby JobManager answers with the leader's overview.",
    schema: { response: ok(ClusterOverview) },
  }),
  jobs: route({
    method: "GET",
    url: "/jobs",
    origin: "flink",
    access: "read-only",
    summary: "Every job's id and status.",
    schema: { response: ok(JobIdsWithStatus) },
  }),
  jobsOverview: route({
    method: "GET",
    url: "/jobs/overview",
    origin: "flink",
    access: "read-only",
    summary: "Every job with its times and task counts, newest first.",
    schema: { response: ok(MultipleJobsDetails) },
  }),
  submitJob: route({
    method: "POST",
    url: "/jobs",
    origin: "riffle",
    access: "operator",
    summary:
      "Submits a job: a base64 esbuild bundle of the job module (as `riffle run` makes it), with parallelism, arguments and a savepoint to start from. Riffle's own: Flink submits jars.",
    schema: { body: SubmitJobRequest, response: accepted(SubmitJobResponse) },
  }),
  jobDetails: route({
    method: "GET",
    url: "/jobs/:id",
    origin: "flink",
    access: "read-only",
    summary: "A job: status, times, vertices with their metrics, and its plan.",
    schema: { params: JobIdParams, response: ok(JobDetails) },
  }),
  cancelJob: route({
    method: "PATCH",
    url: "/jobs/:id",
    origin: "flink",
    access: "operator",
    summary: "Cancels a job (mode=cancel).",
    schema: { params: JobIdParams, querystring: CancelQuery, response: { 202: ErrorBody.partial(), ...errors } },
  }),
  jobPlan: route({
    method: "GET",
    url: "/jobs/:id/plan",
    origin: "flink",
    access: "read-only",
    summary: "The job's dataflow plan: vertices (chains of operators) and the edges between them.",
    schema: { params: JobIdParams, response: ok(JobPlanInfo) },
  }),
  jobExceptions: route({
    method: "GET",
    url: "/jobs/:id/exceptions",
    origin: "flink",
    access: "read-only",
    summary: "The job's root failure and the history of task failures, newest first.",
    schema: { params: JobIdParams, response: ok(JobExceptions) },
  }),
  vertexDetails: route({
    method: "GET",
    url: "/jobs/:id/vertices/:vid",
    origin: "flink",
    access: "read-only",
    summary: "A vertex and its subtasks: state, TaskManager, records and bytes, busy/idle/back-pressured time.",
    schema: { params: VertexParams, response: ok(JobVertexDetails) },
  }),
  vertexWatermarks: route({
    method: "GET",
    url: "/jobs/:id/vertices/:vid/watermarks",
    origin: "flink",
    access: "read-only",
    summary:
      "Each subtask's `<subtask>.currentInputWatermark` (Flink's) and `<subtask>.currentOutputWatermark` (Riffle's); -9007199254740991 means no watermark yet.",
    schema: { params: VertexParams, response: ok(MetricCollection) },
  }),
  savepoint: route({
    method: "POST",
    url: "/jobs/:id/savepoints",
    origin: "flink",
    access: "operator",
    summary: "Triggers a savepoint (optionally cancelling the job after it); poll the returned request id.",
    schema: { params: JobIdParams, body: SavepointTriggerRequest.nullish(), response: accepted(TriggerResponse) },
  }),
  savepointStatus: route({
    method: "GET",
    url: "/jobs/:id/savepoints/:triggerId",
    origin: "flink",
    access: "read-only",
    summary: "The state of a savepoint or stop-with-savepoint.",
    schema: { params: TriggerParams, response: ok(OperationResult) },
  }),
  stop: route({
    method: "POST",
    url: "/jobs/:id/stop",
    origin: "flink",
    access: "operator",
    summary: "Stops the job with a savepoint; it ends FINISHED. Poll the request id at /jobs/:id/savepoints/:triggerId.",
    schema: { params: JobIdParams, body: StopWithSavepointRequest.nullish(), response: accepted(TriggerResponse) },
  }),
  rescale: route({
    method: "PATCH",
    url: "/jobs/:id/rescaling",
    origin: "flink",
    access: "operator",
    summary: "Rescales the job to ?parallelism=N: stop with a savepoint, restart from it at the new parallelism.",
    schema: { params: JobIdParams, querystring: RescaleQuery, response: accepted(TriggerResponse) },
  }),
  rescalePost: route({
    method: "POST",
    url: "/jobs/:id/rescaling",
    origin: "riffle",
    access: "operator",
    summary: "The same as PATCH /jobs/:id/rescaling.",
    schema: { params: JobIdParams, querystring: RescaleQuery, response: accepted(TriggerResponse) },
  }),
  rescaleStatus: route({
    method: "GET",
    url: "/jobs/:id/rescaling/:triggerId",
    origin: "flink",
    access: "read-only",
    summary: "The state of a rescale.",
    schema: { params: TriggerParams, response: ok(OperationResult) },
  }),
  checkpoints: route({
    method: "GET",
    url: "/jobs/:id/checkpoints",
    origin: "flink",
    access: "read-only",
    summary: "Checkpoint counts, summaries, the latest ones and the history (404 CHECKPOINTING_DISABLED for a job without checkpoints).",
    schema: { params: JobIdParams, response: ok(CheckpointingStatistics) },
  }),
  checkpointConfig: route({
    method: "GET",
    url: "/jobs/:id/checkpoints/config",
    origin: "flink",
    access: "read-only",
    summary: "The job's checkpoint configuration.",
    schema: { params: JobIdParams, response: ok(CheckpointConfig) },
  }),
  checkpointDetails: route({
    method: "GET",
    url: "/jobs/:id/checkpoints/details/:cid",
    origin: "flink",
    access: "read-only",
    summary: "One checkpoint of the history, or the latest completed, failed or savepoint.",
    schema: { params: CheckpointParams, response: ok(CheckpointStatistics) },
  }),
  jobMetrics: route({
    method: "GET",
    url: "/jobs/:id/metrics",
    origin: "flink",
    access: "read-only",
    summary: "Job metrics by name (?get=a,b); without `get`, the names available.",
    schema: { params: JobIdParams, querystring: MetricsQuery, response: ok(MetricCollection) },
  }),

  vertexBackPressure: route({
    method: "GET",
    url: "/jobs/:id/vertices/:vid/backpressure",
    origin: "flink",
    access: "read-only",
    summary: "Back-pressure per subtask and for the vertex: ratio of time waiting for output buffers; OK ≤ 0.10 < LOW ≤ 0.5 < HIGH.",
    schema: { params: VertexParams, response: ok(JobVertexBackPressure) },
  }),

  vertexSubtaskMetrics: route({
    method: "GET",
    url: "/jobs/:id/vertices/:vid/subtasks/metrics",
    origin: "flink",
    access: "read-only",
    summary: "Subtask metrics aggregated over the vertex's subtasks (?get=a,b&agg=min,max,avg,sum); without `get`, the names available.",
    schema: { params: VertexParams, querystring: AggregatedMetricsQuery, response: ok(AggregatedMetrics.or(MetricCollection)) },
  }),

  taskmanagersMetrics: route({
    method: "GET",
    url: "/taskmanagers/metrics",
    origin: "flink",
    access: "read-only",
    summary: "TaskManager metrics aggregated over TaskManagers (?get=a,b&agg=min,max,avg,sum); without `get`, the names available.",
    schema: { querystring: AggregatedMetricsQuery, response: ok(AggregatedMetrics.or(MetricCollection)) },
  }),
  jobMetricsHistory: route({
    method: "GET",
    url: "/jobs/:id/metrics/history",
    origin: "riffle",
    access: "read-only",
    summary:
      "Each vertex's records per second and busy/idle/back-pressured time over the last minutes (?since=<ms> for newer points only): the dashboard's charts, without Prometheus.",
    schema: { params: JobIdParams, querystring: MetricsHistoryQuery, response: ok(JobMetricsHistory) },
  }),
  jobAutoscaler: route({
    method: "GET",
    url: "/jobs/:id/autoscaler",
    origin: "riffle",
    access: "read-only",
    summary:
      "The job's autoscaling: state, the metrics window, per vertex the measured rates, true processing rate, target rate and recommended vs current parallelism, and the history of decisions with their reasons.",
    schema: { params: JobIdParams, response: ok(JobAutoscalerInfo) },
  }),
  results: route({
    method: "GET",
    url: "/jobs/:id/results",
    origin: "riffle",
    access: "read-only",
    summary: "Long-poll for the records of the job's collect sinks after ?cursor=N; reading at N acknowledges the records before it.",
    schema: { params: JobIdParams, querystring: ResultsQuery, response: ok(ResultsPage) },
  }),
  taskmanagers: route({
    method: "GET",
    url: "/taskmanagers",
    origin: "flink",
    access: "read-only",
    summary: "Every registered TaskManager with its slots.",
    schema: { response: ok(TaskManagersInfo) },
  }),
  taskmanagerDetails: route({
    method: "GET",
    url: "/taskmanagers/:id",
    origin: "flink",
    access: "read-only",
    summary: "A TaskManager: slots and who holds them, memory and network buffers measured on it, and its tasks.",
    schema: { params: TaskManagerIdParams, response: ok(TaskManagerDetailsInfo) },
  }),
  jobmanagerConfig: route({
    method: "GET",
    url: "/jobmanager/config",
    origin: "flink",
    access: "read-only",
    summary: "Every configuration key and its value.",
    schema: { response: ok(ClusterConfiguration) },
  }),
  jobmanagerHa: route({
    method: "GET",
    url: "/jobmanager/ha",
    origin: "riffle",
    access: "read-only",
    standby: true,
    summary: "High availability as this JobManager sees it: its role, who leads (addresses, fencing token), the candidates, and the last election error.",
    schema: { response: ok(HighAvailabilityInfo) },
  }),
  jobmanagerMetrics: route({
    method: "GET",
    url: "/jobmanager/metrics",
    origin: "flink",
    access: "read-only",
    summary: "JobManager metrics by name (?get=a,b); without `get`, the names available.",
    schema: { querystring: MetricsQuery, response: ok(MetricCollection) },
  }),
} as const satisfies Record<string, RouteSpec>;

export type RouteName = keyof typeof routes;

/** A route's path with its parameters filled in (encoded), e.g. `pathOf("jobDetails", { id })`. */
export function pathOf(name: RouteName, params: Record<string, string | number> = {}): string {
  return routes[name].url.replace(/:([A-Za-z]+)/g, (_, key: string) => {
    const value = params[key];
    if (value === undefined) throw new Error(`${routes[name].url} needs a value for :${key}`);
    return encodeURIComponent(String(value));
  });
}
