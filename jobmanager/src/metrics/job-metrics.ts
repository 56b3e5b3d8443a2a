import type { Execution, JobMaster } from "../scheduler/index.js";
import type { MetricsHistory, SubtaskMetrics } from "./history.js";

/** Defined with the REST API, so the dashboard colours vertices with the same thresholds. */
export { backPressureLevel } from "@riffle/shared/rest-api";

/** A subtask of the job's current attempt with what it measured: undefined before its first report. */
export interface MeasuredSubtask {
  execution: Execution;
  metrics: SubtaskMetrics | undefined;
  /** Rates count only while the execution runs: an ended or failed one processes nothing. */
  running: boolean;
}

/** The current attempt's subtasks of `vertexId`, subtask order, with their measurements. */
export function measuredSubtasks(job: JobMaster, history: MetricsHistory, vertexId: string): MeasuredSubtask[] {
  const jobHistory = history.job(job.id);
  return job
    .executionList()
    .filter((e) => e.vertexId === vertexId)
    .sort((a, b) => a.subtask - b.subtask)
    .map((execution) => ({
      execution,
      metrics: jobHistory?.current(vertexId, execution.subtask, execution.executionId),
      running: execution.state === "RUNNING",
    }));
}

/** Rates and times of a vertex now: records per second summed over running subtasks, times at the highest. */
export interface VertexRates {
  /** Records the vertex's sources have not read yet, summed over subtasks that know them; undefined when none does. */
  pendingRecords: number | undefined;
  /** The fullest output and input of the vertex's running subtasks (Flink's outPoolUsage, inPoolUsage). */
  outPoolUsage: number;
  inPoolUsage: number;
  numRecordsInPerSecond: number;
  numRecordsOutPerSecond: number;
  /**
   * Records the vertex's source emitted per second into its chain (Flink: the source operator's
   * numRecordsOutPerSecond), summed: what a source vertex reads, whether it sends it over the
   * network or not. 0 for vertices without a source.
   */
  sourceNumRecordsOutPerSecond: number;
  busyTimeMsPerSecond: number;
  idleTimeMsPerSecond: number;
  backPressuredTimeMsPerSecond: number;
}

export function vertexRates(subtasks: readonly MeasuredSubtask[]): VertexRates {
  const r: VertexRates = {
    pendingRecords: undefined,
    outPoolUsage: 0,
    inPoolUsage: 0,
    numRecordsInPerSecond: 0,
    numRecordsOutPerSecond: 0,
    sourceNumRecordsOutPerSecond: 0,
    busyTimeMsPerSecond: 0,
    idleTimeMsPerSecond: 0,
    backPressuredTimeMsPerSecond: 0,
  };
  for (const s of subtasks) {
    if (!s.running || !s.metrics) continue;
    r.numRecordsInPerSecond += s.metrics.numRecordsInPerSecond;
    r.numRecordsOutPerSecond += s.metrics.numRecordsOutPerSecond;
    r.sourceNumRecordsOutPerSecond += s.metrics.sourceNumRecordsOutPerSecond;
    r.busyTimeMsPerSecond = Math.max(r.busyTimeMsPerSecond, s.metrics.busyMsPerSecond);
    r.idleTimeMsPerSecond = Math.max(r.idleTimeMsPerSecond, s.metrics.idleMsPerSecond);
    r.backPressuredTimeMsPerSecond = Math.max(r.backPressuredTimeMsPerSecond, s.metrics.backPressuredMsPerSecond);
    r.outPoolUsage = Math.max(r.outPoolUsage, s.metrics.outPoolUsage ?? 0);
    r.inPoolUsage = Math.max(r.inPoolUsage, s.metrics.inPoolUsage ?? 0);
    const pending = s.metrics.pendingRecords;
    if (pending !== undefined && pending >= 0) r.pendingRecords = (r.pendingRecords ?? 0) + pending;
  }
  return r;
}

/**
 * The job's throughput: records its sources emit per second (out) and its sinks — vertices without
 * network outputs — receive per second (in). Sources count what they emit into their chain, not what
 * leaves over the network, so a job chained into one vertex (source → map → sink) is measured too;
 * such a vertex receives what its source emits.
 */
export function jobThroughput(job: JobMaster, history: MetricsHistory): { numRecordsInPerSecond: number; numRecordsOutPerSecond: number } {
  let out = 0;
  let into = 0;
  for (const v of job.graph.vertices) {
    const isSource = v.inputs.length === 0;
    const isSink = v.outputs.length === 0;
    if (!isSource && !isSink) continue;
    const rates = vertexRates(measuredSubtasks(job, history, v.id));
    if (isSource) out += rates.sourceNumRecordsOutPerSecond;
    if (isSink) into += isSource ? rates.sourceNumRecordsOutPerSecond : rates.numRecordsInPerSecond;
  }
  return { numRecordsInPerSecond: into, numRecordsOutPerSecond: out };
}

/**
 * The subtask metrics served by name (Flink's names); buffer usage only once TaskManagers report it.
 * A source subtask adds its source operator's counter and rate as `Source.numRecordsOut` and
 * `Source.numRecordsOutPerSecond` (Flink names operator metrics `<operator>.<metric>`).
 */
export function subtaskMetricValues(m: SubtaskMetrics, running: boolean, isSource = false): Record<string, number> {
  const values: Record<string, number> = {
    numRecordsIn: m.recordsIn,
    numRecordsOut: m.recordsOut,
    numBytesIn: m.bytesIn,
    numBytesOut: m.bytesOut,
    numRecordsInPerSecond: running ? m.numRecordsInPerSecond : 0,
    numRecordsOutPerSecond: running ? m.numRecordsOutPerSecond : 0,
    numBytesInPerSecond: running ? m.numBytesInPerSecond : 0,
    numBytesOutPerSecond: running ? m.numBytesOutPerSecond : 0,
    busyTimeMsPerSecond: m.busyMsPerSecond,
    idleTimeMsPerSecond: m.idleMsPerSecond,
    backPressuredTimeMsPerSecond: m.backPressuredMsPerSecond,
    currentInputWatermark: m.currentInputWatermark,
    currentOutputWatermark: m.currentOutputWatermark,
  };
  if (m.outPoolUsage !== undefined) values.outPoolUsage = m.outPoolUsage;
  if (m.inPoolUsage !== undefined) values.inPoolUsage = m.inPoolUsage;
  if (m.pendingRecords !== undefined && m.pendingRecords >= 0) values.pendingRecords = m.pendingRecords;
  if (isSource) {
    values["Source.numRecordsOut"] = m.sourceRecordsOut ?? 0;
    values["Source.numRecordsOutPerSecond"] = running ? m.sourceNumRecordsOutPerSecond : 0;
  }
  return values;
}
