import { RiffleError } from "@riffle/shared";
import { type AggregatedMetrics, type Aggregation, type MetricCollection, routes } from "@riffle/shared/rest-api";
import { type TaskManagerMetricsScraper, backPressureLevel, jobThroughput, measuredSubtasks, subtaskMetricValues } from "../metrics/index.js";
import type { JobMaster } from "../scheduler/index.js";
import { selectMetrics } from "./cluster-routes.js";
import type { RestApp, RestContext } from "./context.js";
import { routeOptions } from "./route-options.js";

/**
 * Metrics measured at the JobManager from its history of the TaskManagers' reports (see
 * metrics/history.ts), in Flink's shapes: back-pressure per vertex, subtask metrics aggregated,
 * job metrics, TaskManager metrics aggregated; and Riffle's history for charts.
 */
export function registerMetricRoutes(app: RestApp, ctx: RestContext, scraper: TaskManagerMetricsScraper): void {
  // Read per request: the leader part of the moment (a standby never gets here, see server.ts).

  app.route({
    ...routeOptions(routes.vertexBackPressure),
    handler: async (req) => {
      const job = ctx.dispatcher.job(req.params.id);
      vertexOf(job, req.params.vid);
      // Only subtasks that reported from their current execution: one deployed a moment ago (a
      // restart, a rescale) has not measured anything yet, and 0 would read as "ok".
      const measured = measuredSubtasks(job, ctx.metricsHistory, req.params.vid).flatMap((s) => (s.metrics ? [{ ...s, metrics: s.metrics }] : []));
      if (measured.length === 0) return { status: "deprecated" as const, subtasks: [] };
      const subtasks = measured.map((s) => {
        // Flink's ratios are fractions of wall time; an ended subtask waits for nothing.
        const of = (ms: number) => (s.running ? Math.min(1, ms / 1000) : 0);
        const ratio = of(s.metrics.backPressuredMsPerSecond);
        return {
          subtask: s.execution.subtask,
          attemptNumber: s.execution.attempt,
          "backpressure-level": backPressureLevel(ratio),
          ratio,
          idleRatio: of(s.metrics.idleMsPerSecond),
          busyRatio: of(s.metrics.busyMsPerSecond),
        };
      });
      const max = Math.max(...subtasks.map((s) => s.ratio));
      const latest = Math.max(...measured.map((s) => s.metrics.at));
      return { status: "ok" as const, "backpressure-level": backPressureLevel(max), "end-timestamp": latest, subtasks };
    },
  });

  app.route({
    ...routeOptions(routes.vertexSubtaskMetrics),
    handler: async (req) => {
      const job = ctx.dispatcher.job(req.params.id);
      const isSource = vertexOf(job, req.params.vid).inputs.length === 0;
      const values = measuredSubtasks(job, ctx.metricsHistory, req.params.vid).flatMap((s) =>
        s.metrics ? [subtaskMetricValues(s.metrics, s.running, isSource)] : [],
      );
      return aggregate(values, req.query.get, req.query.agg);
    },
  });

  app.route({
    ...routeOptions(routes.jobMetrics),
    handler: async (req) => {
      const job = ctx.dispatcher.job(req.params.id);
      const stats = job.checkpointCoordinator.stats;
      const snapshot = stats.snapshot();
      const throughput = jobThroughput(job, ctx.metricsHistory);
      const running = job.record.statusTimestamps.RUNNING;
      const all: MetricCollection = [
        { id: "numRestarts", value: String(job.numRestarts) },
        { id: "uptime", value: String(job.status === "RUNNING" && running ? ctx.clock.now() - running : 0) },
        { id: "numberOfCompletedCheckpoints", value: String(stats.numberOfCompleted) },
        { id: "numberOfFailedCheckpoints", value: String(stats.numberOfFailed) },
        { id: "numberOfInProgressCheckpoints", value: String(snapshot.counts.inProgress) },
        { id: "totalNumberOfCheckpoints", value: String(snapshot.counts.total) },
        { id: "lastCheckpointDuration", value: String(stats.lastCompleted?.endToEndDurationMs ?? -1) },
        { id: "lastCheckpointSize", value: String(stats.lastCompleted?.stateSize ?? -1) },
        { id: "numRecordsInPerSecond", value: String(throughput.numRecordsInPerSecond) },
        { id: "numRecordsOutPerSecond", value: String(throughput.numRecordsOutPerSecond) },
      ];
      return selectMetrics(all, req.query.get);
    },
  });

  app.route({
    ...routeOptions(routes.jobMetricsHistory),
    handler: async (req) => {
      const job = ctx.dispatcher.job(req.params.id);
      const jobHistory = ctx.metricsHistory.job(job.id);
      const vertices: Record<string, ReturnType<NonNullable<typeof jobHistory>["vertexSeries"]>> = {};
      let until = 0;
      for (const v of job.graph.vertices) {
        const points = jobHistory?.vertexSeries(v.id, v.parallelism, req.query.since) ?? [];
        vertices[v.id] = points;
        until = Math.max(until, points.at(-1)?.t ?? 0);
      }
      return { step: ctx.metricsHistory.options.reportIntervalMs, until, vertices };
    },
  });

  app.route({
    ...routeOptions(routes.taskmanagersMetrics),
    handler: async (req) => {
      const measured = await Promise.all(
        ctx.registry.list().map((tm) =>
          scraper.metricsOf(tm.metricsAddress).then(
            (m) => m,
            () => undefined,
          ),
        ),
      );
      const values = measured.flatMap((m) =>
        m
          ? [
              {
                "Status.Node.Memory.Heap.Used": m.heapUsed,
                "Status.Node.Memory.Heap.Committed": m.heapCommitted,
                "Status.Process.Memory.RSS": m.rss,
                "Status.Node.EventLoop.LagMs": m.eventLoopLagMs,
                "Status.Shuffle.Netty.TotalMemorySegments": m.nettyShuffleMemorySegmentsTotal,
                "Status.Shuffle.Netty.AvailableMemorySegments": m.nettyShuffleMemorySegmentsAvailable,
                "Status.Shuffle.Netty.UsedMemorySegments": m.nettyShuffleMemorySegmentsUsed,
              },
            ]
          : [],
      );
      return aggregate(values, req.query.get, req.query.agg);
    },
  });
}

function vertexOf(job: JobMaster, vertexId: string): JobMaster["graph"]["vertices"][number] {
  const vertex = job.graph.vertices.find((v) => v.id === vertexId);
  if (!vertex) {
    throw new RiffleError("NOT_FOUND", `job ${job.id} has no vertex ${vertexId}; its vertices are ${job.graph.vertices.map((v) => v.id).join(", ")}`);
  }
  return vertex;
}

/**
 * Flink's aggregated metrics: for each metric asked for that some source has, the aggregations asked
 * for over the sources that have it. Without `get`, the names available (as Flink answers).
 */
export function aggregate(values: ReadonlyArray<Record<string, number>>, get: string[] | undefined, aggs: Aggregation[]): AggregatedMetrics | MetricCollection {
  const names = [...new Set(values.flatMap((v) => Object.keys(v)))];
  if (!get) return names.map((id) => ({ id }));
  return get.flatMap((id) => {
    const xs = values.flatMap((v) => (typeof v[id] === "number" ? [v[id]] : []));
    if (xs.length === 0) return [];
    const sum = xs.reduce((a, b) => a + b, 0);
    const all = { min: Math.min(...xs), max: Math.max(...xs), avg: sum / xs.length, sum };
    return [{ id, ...Object.fromEntries(aggs.map((a) => [a, all[a]])) }];
  });
}
