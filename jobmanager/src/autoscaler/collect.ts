import { type MetricsHistory, measuredSubtasks } from "../metrics/index.js";
import type { JobMaster } from "../scheduler/index.js";
import type { MetricsSample, VertexSample } from "./algorithm.js";

/**
 * One sample of every vertex of the job's current attempt, from the JobManager's history of the
 * TaskManagers' heartbeat reports (rates over the history's rate window). Undefined until every
 * subtask runs and has reported: a vertex measured on some of its subtasks would look idle.
 */
export function collectSample(job: JobMaster, history: MetricsHistory, at: number): MetricsSample | undefined {
  const vertices: Record<string, VertexSample> = {};
  for (const v of job.graph.vertices) {
    const subtasks = measuredSubtasks(job, history, v.id);
    if (subtasks.length !== v.parallelism) return undefined;
    let inputRate = 0;
    let outputRate = 0;
    let busy = 0;
    let backPressured = 0;
    let pending: number | undefined;
    let recordsIn = 0;
    let recordsOut = 0;
    let countedAt = 0;
    const isSource = v.inputs.length === 0;
    for (const s of subtasks) {
      if (!s.running || !s.metrics) return undefined;
      const m = s.metrics;
      // A source reads from outside the job: what it emits into its chain is what it read, whether
      // that leaves over the network or goes straight on to a chained sink (its network input is none).
      inputRate += isSource ? m.sourceNumRecordsOutPerSecond : m.numRecordsInPerSecond;
      outputRate += m.numRecordsOutPerSecond;
      recordsIn += isSource ? (m.sourceRecordsOut ?? 0) : m.recordsIn;
      recordsOut += m.recordsOut;
      countedAt = Math.max(countedAt, m.at);
      busy = Math.max(busy, m.busyMsPerSecond);
      backPressured = Math.max(backPressured, m.backPressuredMsPerSecond);
      if (m.pendingRecords !== undefined && m.pendingRecords >= 0) pending = (pending ?? 0) + m.pendingRecords;
    }
    vertices[v.id] = {
      inputRate,
      outputRate,
      busyTimeMsPerSecond: busy,
      backPressuredTimeMsPerSecond: backPressured,
      pendingRecords: pending,
      counts: { recordsIn, recordsOut, at: countedAt },
    };
  }
  return { at, vertices };
}
