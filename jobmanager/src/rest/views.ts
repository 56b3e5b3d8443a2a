import { RiffleError } from "@riffle/shared";
import type { OperationState } from "../dispatcher/index.js";
import type { RegisteredTaskManager } from "../registry/index.js";
import type { Execution, ExecutionState, JobMaster } from "../scheduler/index.js";

/**
 * JSON shapes of the REST API, after Flink's where Flink has a counterpart. Times are ms since the
 * epoch; `endTime` is -1 while a job has not ended (Flink's convention).
 */

export function jobOverview(job: JobMaster, now: number) {
  const r = job.record;
  return {
    id: r.id,
    name: r.name,
    status: job.status,
    startTime: r.submittedAt,
    endTime: r.endTime ?? -1,
    duration: (r.endTime ?? now) - r.submittedAt,
  };
}

export function jobDetails(job: JobMaster, now: number) {
  const byVertex = new Map<string, Execution[]>();
  for (const e of job.executionList()) {
    const list = byVertex.get(e.vertexId) ?? [];
    list.push(e);
    byVertex.set(e.vertexId, list);
  }
  const vertices = job.graph.vertices.map((v) => {
    const executions = (byVertex.get(v.id) ?? []).sort((a, b) => a.subtask - b.subtask);
    const subtasks = executions.map((e) => ({
      subtask: e.subtask,
      executionId: e.executionId,
      taskmanagerId: e.slot.taskmanagerId,
      status: e.state,
      recordsIn: e.metrics?.recordsIn ?? 0,
      recordsOut: e.metrics?.recordsOut ?? 0,
      busyTimeMsPerSecond: e.metrics?.busyMsPerSecond ?? 0,
      idleTimeMsPerSecond: e.metrics?.idleMsPerSecond ?? 0,
      backPressuredTimeMsPerSecond: e.metrics?.backPressuredMsPerSecond ?? 0,
    }));
    const sum = (f: (e: Execution) => number | undefined) => executions.reduce((acc, e) => acc + (f(e) ?? 0), 0);
    const max = (f: (e: Execution) => number | undefined) => executions.reduce((acc, e) => Math.max(acc, f(e) ?? 0), 0);
    return {
      id: v.id,
      name: v.name,
      parallelism: v.parallelism,
      status: vertexStatus(
        executions.map((e) => e.state),
        job,
      ),
      metrics: {
        recordsIn: sum((e) => e.metrics?.recordsIn),
        recordsOut: sum((e) => e.metrics?.recordsOut),
        // Network bytes only: records between tasks of one TaskManager are passed by reference.
        bytesIn: sum((e) => e.metrics?.bytesIn),
        bytesOut: sum((e) => e.metrics?.bytesOut),
        busyTimeMsPerSecond: max((e) => e.metrics?.busyMsPerSecond),
        idleTimeMsPerSecond: max((e) => e.metrics?.idleMsPerSecond),
        backPressuredTimeMsPerSecond: max((e) => e.metrics?.backPressuredMsPerSecond),
      },
      subtasks,
    };
  });
  return {
    ...jobOverview(job, now),
    maxParallelism: job.graph.maxParallelism,
    numRestarts: job.numRestarts,
    ...(job.record.savepoint ? { savepoint: job.record.savepoint } : {}),
    vertices,
    statusTimestamps: job.record.statusTimestamps,
    ...(job.record.failure ? { failure: job.record.failure } : {}),
  };
}

/** No watermark yet: Riffle's MIN_WATERMARK, where Flink shows Long.MIN_VALUE. */
const NO_WATERMARK = Number.MIN_SAFE_INTEGER;

/**
 * GET /jobs/:id/vertices/:vid/watermarks, in Flink's shape: `<subtask>.currentInputWatermark` for each
 * subtask (Flink's only entry), then `<subtask>.currentOutputWatermark`, values as strings, from the
 * subtasks' last metrics reports. A subtask without a report yet shows no watermark.
 */
export function vertexWatermarks(job: JobMaster, vertexId: string) {
  const vertex = job.graph.vertices.find((v) => v.id === vertexId);
  if (!vertex) throw new RiffleError("NOT_FOUND", `job ${job.id} has no vertex ${vertexId}`);
  const bySubtask = new Map<number, Execution>();
  for (const e of job.executionList()) if (e.vertexId === vertexId) bySubtask.set(e.subtask, e);
  const metrics: Array<{ id: string; value: string }> = [];
  for (let subtask = 0; subtask < vertex.parallelism; subtask++) {
    const report = bySubtask.get(subtask)?.metrics;
    metrics.push({ id: `${subtask}.currentInputWatermark`, value: String(report?.currentInputWatermark ?? NO_WATERMARK) });
    metrics.push({ id: `${subtask}.currentOutputWatermark`, value: String(report?.currentOutputWatermark ?? NO_WATERMARK) });
  }
  return metrics;
}

/**
 * A vertex's status from its subtasks', as Flink aggregates them: a shared state if all agree,
 * else the most telling one. A vertex without executions was never deployed.
 */
function vertexStatus(states: ExecutionState[], job: JobMaster): string {
  if (states.length === 0) return job.status === "FINISHED" ? "FINISHED" : job.isTerminal ? "CANCELED" : "CREATED";
  if (states.every((s) => s === states[0])) return states[0]!;
  for (const s of ["FAILED", "CANCELING", "CANCELED", "RUNNING"] as const) if (states.includes(s)) return s;
  if (states.includes("FINISHED")) return "RUNNING";
  return states.includes("DEPLOYING") ? "DEPLOYING" : "SCHEDULED";
}

export function jobPlan(job: JobMaster) {
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
          return { num, id: e?.source ?? "", ship_strategy: (e?.partitioner ?? "forward").toUpperCase() };
        }),
      })),
    },
  };
}

export function jobExceptions(job: JobMaster) {
  const failure = job.record.failure;
  const ts = job.record.statusTimestamps;
  return {
    rootException: failure?.message ?? null,
    timestamp: failure ? (ts.FAILING ?? ts.FAILED ?? null) : null,
    exceptionHistory: {
      entries: [...job.exceptions].reverse().map((e) => ({
        code: e.code,
        message: e.message,
        timestamp: e.timestamp,
        taskName: e.taskName,
        taskmanagerId: e.taskmanagerId,
      })),
    },
  };
}

export function taskManagerView(tm: RegisteredTaskManager, now: number) {
  return {
    id: tm.id,
    address: tm.address,
    metricsAddress: tm.metricsAddress,
    pid: tm.pid,
    slotsNumber: tm.slotsNumber,
    freeSlots: tm.freeSlots,
    registeredAt: tm.registeredAt,
    timeSinceLastHeartbeat: now - tm.lastHeartbeatAt,
  };
}

/**
 * A savepoint, stop or rescale operation as Flink reports one: IN_PROGRESS, or COMPLETED with the
 * savepoint's location or with the failure's cause.
 */
export function operationView(state: OperationState) {
  if (state.status === "IN_PROGRESS") return { status: { id: "IN_PROGRESS" } };
  return {
    status: { id: "COMPLETED" },
    operation: state.status === "COMPLETED" ? { location: state.location } : { "failure-cause": state.failure },
  };
}
