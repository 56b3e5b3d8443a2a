import { RiffleError } from "@riffle/shared";
import {
  EXECUTION_STATES,
  JOB_STATUSES,
  type ExecutionState,
  type IOMetrics,
  type JobDetails,
  type JobExceptions,
  type JobOverview,
  type JobPlan,
  type JobVertexDetails,
  type JobVertexSummary,
  type MetricCollection,
  type OperationResult,
  type TaskCounts,
  type TaskManagerInfo,
} from "@riffle/shared/rest-api";
import type { OperationState } from "../dispatcher/index.js";
import { type MeasuredSubtask, type MetricsHistory, jobThroughput, measuredSubtasks, vertexRates } from "../metrics/index.js";
import type { RegisteredTaskManager } from "../registry/index.js";
import type { Execution, JobMaster } from "../scheduler/index.js";

/**
 * The REST API's answers, built from the JobManager's state in the shapes of @riffle/shared/rest-api
 * (Flink's where Flink has them). Times are ms since the epoch; an end time is -1 while the thing has
 * not ended, as in Flink.
 */

export function jobOverview(job: JobMaster, now: number, history: MetricsHistory): JobOverview {
  const r = job.record;
  const executions = job.executionList();
  const counts = upperCounts(executions.map((e) => e.state));
  const tasks: TaskCounts = {
    total: executions.length,
    created: counts.CREATED,
    scheduled: counts.SCHEDULED,
    deploying: counts.DEPLOYING,
    running: counts.RUNNING,
    finished: counts.FINISHED,
    canceling: counts.CANCELING,
    canceled: counts.CANCELED,
    failed: counts.FAILED,
    reconciling: 0,
    initializing: 0,
  };
  return {
    jid: r.id,
    name: r.name,
    state: job.status,
    "start-time": r.submittedAt,
    "end-time": r.endTime ?? -1,
    duration: (r.endTime ?? now) - r.submittedAt,
    "last-modification": Math.max(r.submittedAt, ...Object.values(r.statusTimestamps).filter((t): t is number => typeof t === "number")),
    tasks,
    parallelism: Math.max(0, ...job.graph.vertices.map((v) => v.parallelism)),
    metrics: job.isTerminal ? { numRecordsInPerSecond: 0, numRecordsOutPerSecond: 0 } : jobThroughput(job, history),
  };
}

export function jobDetails(job: JobMaster, now: number, history: MetricsHistory): JobDetails {
  const overview = jobOverview(job, now, history);
  const byVertex = executionsByVertex(job);
  const vertices = job.graph.vertices.map((v): JobVertexSummary => {
    const executions = byVertex.get(v.id) ?? [];
    const status = vertexStatus(
      executions.map((e) => e.state),
      job,
    );
    const starts = executions.map((e) => startOf(e)).filter((t) => t > 0);
    const start = starts.length > 0 ? Math.min(...starts) : -1;
    const ended = executions.length > 0 && executions.every((e) => endOf(e) > 0);
    const end = ended ? Math.max(...executions.map(endOf)) : -1;
    return {
      id: v.id,
      name: v.name,
      maxParallelism: v.maxParallelism,
      parallelism: v.parallelism,
      status,
      "start-time": start,
      "end-time": end,
      duration: start < 0 ? -1 : (end > 0 ? end : now) - start,
      tasks: upperCounts(executions.map((e) => e.state)),
      metrics: ioMetrics(measuredSubtasks(job, history, v.id)),
    };
  });
  const timestamps = Object.fromEntries(JOB_STATUSES.map((s) => [s, job.record.statusTimestamps[s] ?? 0])) as JobDetails["timestamps"];
  return {
    jid: overview.jid,
    name: overview.name,
    isStoppable: job.status === "RUNNING",
    state: overview.state,
    "job-type": "STREAMING",
    "start-time": overview["start-time"],
    "end-time": overview["end-time"],
    duration: overview.duration,
    maxParallelism: job.graph.maxParallelism,
    now,
    timestamps,
    vertices,
    "status-counts": upperCounts(vertices.map((v) => v.status)),
    plan: jobPlan(job).plan,
    numRestarts: job.numRestarts,
    ...(job.record.savepoint ? { savepoint: job.record.savepoint } : {}),
    ...(job.record.failure ? { failure: job.record.failure } : {}),
  };
}

export function vertexDetails(job: JobMaster, vertexId: string, now: number, history: MetricsHistory): JobVertexDetails {
  const vertex = vertexOf(job, vertexId);
  const measured = measuredSubtasks(job, history, vertexId);
  return {
    id: vertex.id,
    name: vertex.name,
    parallelism: vertex.parallelism,
    maxParallelism: vertex.maxParallelism,
    now,
    subtasks: measured.map((m) => {
      const e = m.execution;
      const start = startOf(e);
      const end = endOf(e);
      return {
        subtask: e.subtask,
        status: e.state,
        attempt: e.attempt,
        endpoint: e.slot.address,
        "start-time": start,
        "end-time": end,
        duration: start < 0 ? -1 : (end > 0 ? end : now) - start,
        metrics: ioMetrics([m]),
        "taskmanager-id": e.slot.taskmanagerId,
      };
    }),
  };
}

/** No watermark yet: Riffle's MIN_WATERMARK, where Flink shows Long.MIN_VALUE. */
const NO_WATERMARK = Number.MIN_SAFE_INTEGER;

/**
 * GET /jobs/:id/vertices/:vid/watermarks, in Flink's shape: `<subtask>.currentInputWatermark` for each
 * subtask (Flink's only entry), then `<subtask>.currentOutputWatermark`, values as strings, from the
 * subtasks' last metrics reports. A subtask without a report yet shows no watermark.
 */
export function vertexWatermarks(job: JobMaster, vertexId: string): MetricCollection {
  const vertex = vertexOf(job, vertexId);
  const bySubtask = new Map<number, Execution>();
  for (const e of job.executionList()) if (e.vertexId === vertexId) bySubtask.set(e.subtask, e);
  const metrics: MetricCollection = [];
  for (let subtask = 0; subtask < vertex.parallelism; subtask++) {
    const report = bySubtask.get(subtask)?.metrics;
    metrics.push({ id: `${subtask}.currentInputWatermark`, value: String(report?.currentInputWatermark ?? NO_WATERMARK) });
    metrics.push({ id: `${subtask}.currentOutputWatermark`, value: String(report?.currentOutputWatermark ?? NO_WATERMARK) });
  }
  return metrics;
}

export function jobPlan(job: JobMaster): { plan: JobPlan } {
  const edges = new Map(job.graph.edges.map((e) => [e.id, e]));
  return {
    plan: {
      jid: job.id,
      name: job.record.name,
      type: "STREAMING",
      nodes: job.graph.vertices.map((v) => ({
        id: v.id,
        parallelism: v.parallelism,
        operator: v.operators.map((o) => o.name).join(" -> "),
        description: v.name,
        inputs: v.inputs.map((edgeId, num) => {
          const e = edges.get(edgeId);
          return { num, id: e?.source ?? "", ship_strategy: (e?.partitioner ?? "forward").toUpperCase(), exchange: "pipelined_bounded" };
        }),
        operators: v.operators.map((o) => ({ name: o.name, uid: o.uid, kind: o.kind })),
      })),
    },
  };
}

export function jobExceptions(job: JobMaster, addressOf: (taskmanagerId: string) => string | undefined): JobExceptions {
  const failure = job.record.failure;
  const ts = job.record.statusTimestamps;
  return {
    "root-exception": failure?.message ?? null,
    timestamp: failure ? (ts.FAILING ?? ts.FAILED ?? null) : null,
    "all-exceptions": [],
    truncated: false,
    exceptionHistory: {
      entries: [...job.exceptions].reverse().map((e) => ({
        exceptionName: e.code,
        stacktrace: e.message,
        timestamp: e.timestamp,
        taskName: e.taskName,
        endpoint: e.taskmanagerId ? (addressOf(e.taskmanagerId) ?? null) : null,
        taskManagerId: e.taskmanagerId,
        failureLabels: {},
        concurrentExceptions: [],
      })),
      truncated: false,
    },
  };
}

export function taskManagerInfo(tm: RegisteredTaskManager, now: number): TaskManagerInfo {
  return {
    id: tm.id,
    path: tm.address,
    dataPort: Number(tm.address.slice(tm.address.lastIndexOf(":") + 1)),
    jmxPort: -1,
    timeSinceLastHeartbeat: now - tm.lastHeartbeatAt,
    slotsNumber: tm.slotsNumber,
    freeSlots: tm.freeSlots,
    metricsAddress: tm.metricsAddress,
    pid: tm.pid,
    registeredAt: tm.registeredAt,
  };
}

/**
 * A savepoint, stop or rescale operation as Flink reports one: IN_PROGRESS, or COMPLETED with the
 * savepoint's location or with the failure's cause.
 */
export function operationResult(state: OperationState): OperationResult {
  if (state.status === "IN_PROGRESS") return { status: { id: "IN_PROGRESS" } };
  return {
    status: { id: "COMPLETED" },
    operation:
      state.status === "COMPLETED" ? { location: state.location } : { "failure-cause": { class: state.failure.code, "stack-trace": state.failure.message } },
  };
}

function vertexOf(job: JobMaster, vertexId: string) {
  const vertex = job.graph.vertices.find((v) => v.id === vertexId);
  if (!vertex)
    throw new RiffleError("NOT_FOUND", `job ${job.id} has no vertex ${vertexId}; its vertices are ${job.graph.vertices.map((v) => v.id).join(", ")}`);
  return vertex;
}

function executionsByVertex(job: JobMaster): Map<string, Execution[]> {
  const byVertex = new Map<string, Execution[]>();
  for (const e of job.executionList()) {
    const list = byVertex.get(e.vertexId) ?? [];
    list.push(e);
    byVertex.set(e.vertexId, list);
  }
  for (const list of byVertex.values()) list.sort((a, b) => a.subtask - b.subtask);
  return byVertex;
}

/** When the execution was deployed; -1 before. */
function startOf(e: Execution): number {
  return e.stateTimestamps.DEPLOYING ?? -1;
}

/** When the execution ended; -1 while it has not. */
function endOf(e: Execution): number {
  return e.stateTimestamps.FINISHED ?? e.stateTimestamps.CANCELED ?? e.stateTimestamps.FAILED ?? -1;
}

function upperCounts(states: ExecutionState[]): Record<ExecutionState, number> {
  const counts = Object.fromEntries(EXECUTION_STATES.map((s) => [s, 0])) as Record<ExecutionState, number>;
  for (const s of states) counts[s]++;
  return counts;
}

/** Counters summed over the subtasks' last reports; rates and times as vertexRates measures them. */
function ioMetrics(subtasks: MeasuredSubtask[]): IOMetrics {
  const { pendingRecords: _pending, outPoolUsage: _out, inPoolUsage: _in, sourceNumRecordsOutPerSecond: _source, ...rates } = vertexRates(subtasks);
  const executions = subtasks.map((s) => s.execution);
  const complete = executions.length > 0 && executions.every((e) => e.metrics !== undefined);
  const sum = (f: (e: Execution) => number | undefined) => executions.reduce((acc, e) => acc + (f(e) ?? 0), 0);
  return {
    "read-bytes": sum((e) => e.metrics?.bytesIn),
    "read-bytes-complete": complete,
    "write-bytes": sum((e) => e.metrics?.bytesOut),
    "write-bytes-complete": complete,
    "read-records": sum((e) => e.metrics?.recordsIn),
    "read-records-complete": complete,
    "write-records": sum((e) => e.metrics?.recordsOut),
    "write-records-complete": complete,
    ...rates,
  };
}

/**
 * A vertex's status from its subtasks', as Flink aggregates them: a shared state if all agree,
 * else the most telling one. A vertex without executions was never deployed.
 */
function vertexStatus(states: ExecutionState[], job: JobMaster): ExecutionState {
  if (states.length === 0) return job.status === "FINISHED" ? "FINISHED" : job.isTerminal ? "CANCELED" : "CREATED";
  if (states.every((s) => s === states[0])) return states[0]!;
  for (const s of ["FAILED", "CANCELING", "CANCELED", "RUNNING"] as const) if (states.includes(s)) return s;
  if (states.includes("FINISHED")) return "RUNNING";
  return states.includes("DEPLOYING") ? "DEPLOYING" : "SCHEDULED";
}
