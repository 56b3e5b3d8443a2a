import { Counter, Gauge, createRegistry, type Registry } from "@riffle/shared";
import type { Dispatcher } from "../dispatcher/index.js";
import type { TaskManagerRegistry } from "../registry/index.js";
import type { JobMaster } from "../scheduler/index.js";
import { JOB_STATUSES } from "../store/index.js";
import { currentGauge } from "./current-gauge.js";
import type { MetricsHistory } from "./history.js";
import { jobThroughput, measuredSubtasks, vertexRates, type VertexRates } from "./job-metrics.js";

/** What the leader part of the moment offers the metrics; undefined while this JobManager does not lead. */
export interface LeaderMetricsSource {
  dispatcher: Dispatcher;
  registry: TaskManagerRegistry;
  metricsHistory: MetricsHistory;
}

/** What the high-availability metrics read, and the events they count. */
export interface HighAvailabilityMetrics {
  /** A leadership was granted (`granted`) or ended (`revoked`, with the reason). */
  leadershipChange(change: "granted" | "revoked", reason?: string): void;
  /** A job of an earlier leader was taken over. */
  jobRecovered(): void;
}

/**
 * The JobManager's Prometheus registry; gauges are read from the live state at each scrape. Job
 * gauges (Flink's job-level metrics, label `job_id`) cover jobs that have not ended, as Flink drops
 * a job's metrics when it ends. Job, slot and TaskManager gauges come from the leader part (a standby
 * has none); the high-availability ones from every JobManager:
 *   riffle_jobmanager_is_leader                       1 while this JobManager leads and serves, else 0
 *   riffle_jobmanager_leadership_changes_total        grants and revocations (label change, reason)
 *   riffle_jobmanager_lease_keepalive_age_seconds     time since the lease was last renewed (absent without a lease)
 *   riffle_jobmanager_job_recoveries_total            jobs of an earlier leader this JobManager took over
 */
export function createJobManagerMetrics(
  leader: () => LeaderMetricsSource | undefined,
  ha: { isLeader(): boolean; msSinceLastKeepAlive(): number | undefined },
): { metrics: Registry; haMetrics: HighAvailabilityMetrics } {
  const metrics = createRegistry("jobmanager");
  new Gauge({
    name: "riffle_jobmanager_is_leader",
    help: "1 while this JobManager leads (and has taken over the jobs), else 0",
    registers: [metrics],
    collect() {
      this.set(ha.isLeader() ? 1 : 0);
    },
  });
  new Gauge({
    name: "riffle_jobmanager_lease_keepalive_age_seconds",
    help: "Time since this JobManager's etcd lease was last renewed, in seconds; absent without a lease",
    registers: [metrics],
    collect() {
      this.reset();
      const ms = ha.msSinceLastKeepAlive();
      if (ms !== undefined) this.set(ms / 1000);
    },
  });
  const changes = new Counter({
    name: "riffle_jobmanager_leadership_changes_total",
    help: "Leaderships this JobManager was granted, and that ended (with the reason)",
    labelNames: ["change", "reason"],
    registers: [metrics],
  });
  const recoveries = new Counter({
    name: "riffle_jobmanager_job_recoveries_total",
    help: "Jobs of an earlier leader this JobManager took over",
    registers: [metrics],
  });
  const haMetrics: HighAvailabilityMetrics = {
    leadershipChange: (change, reason) => changes.inc({ change, reason: reason ?? "" }),
    jobRecovered: () => recoveries.inc(),
  };
  new Gauge({
    name: "riffle_jobmanager_taskmanagers",
    help: "TaskManagers registered with the JobManager",
    registers: [metrics],
    collect() {
      this.set(leader()?.registry.slotCounts().taskmanagers ?? 0);
    },
  });
  new Gauge({
    name: "riffle_jobmanager_slots_total",
    help: "Task slots offered by registered TaskManagers",
    registers: [metrics],
    collect() {
      this.set(leader()?.registry.slotCounts().slotsTotal ?? 0);
    },
  });
  new Gauge({
    name: "riffle_jobmanager_slots_available",
    help: "Task slots not held by any job",
    registers: [metrics],
    collect() {
      this.set(leader()?.registry.slotCounts().slotsAvailable ?? 0);
    },
  });
  new Gauge({
    name: "riffle_jobmanager_jobs",
    help: "Jobs known to the JobManager, by status",
    labelNames: ["status"],
    registers: [metrics],
    collect() {
      this.reset();
      const counts = leader()?.dispatcher.countByStatus();
      if (counts) for (const status of JOB_STATUSES) this.set({ status }, counts[status]);
    },
  });
  const jobGauge = (name: string, help: string, value: (job: JobMaster, history: MetricsHistory) => number | undefined) =>
    currentGauge(metrics, { name, help, labelNames: ["job_id"] }, leader, (set, part) => {
      for (const job of part.dispatcher.list()) if (!job.isTerminal) set({ job_id: job.id }, value(job, part.metricsHistory));
    });
  jobGauge("riffle_job_numRestarts", "Times the job restarted after a failure", (job) => job.numRestarts);
  jobGauge("riffle_job_numberOfCompletedCheckpoints", "Checkpoints of the job that completed", (job) => job.checkpointCoordinator?.stats.numberOfCompleted);
  jobGauge("riffle_job_numberOfFailedCheckpoints", "Checkpoints of the job that failed", (job) => job.checkpointCoordinator?.stats.numberOfFailed);
  jobGauge(
    "riffle_job_lastCheckpointDuration",
    "End-to-end duration of the job's latest completed checkpoint, in milliseconds",
    (job) => job.checkpointCoordinator?.stats.lastCompleted?.endToEndDurationMs,
  );
  jobGauge(
    "riffle_job_lastCheckpointSize",
    "State size of the job's latest completed checkpoint, in bytes",
    (job) => job.checkpointCoordinator?.stats.lastCompleted?.stateSize,
  );
  jobGauge(
    "riffle_job_numRecordsInPerSecond",
    "Records the job's sinks (vertices without outputs) receive per second",
    (job, history) => jobThroughput(job, history).numRecordsInPerSecond,
  );
  jobGauge(
    "riffle_job_numRecordsOutPerSecond",
    "Records the job's sources emit per second (into their chains, networked or not)",
    (job, history) => jobThroughput(job, history).numRecordsOutPerSecond,
  );

  // The same numbers per vertex as GET /jobs/:id (Flink's task metrics, aggregated over subtasks).
  const vertexGauge = (name: string, help: string, value: (r: VertexRates) => number | undefined) =>
    currentGauge(metrics, { name, help, labelNames: ["job_id", "vertex_id", "vertex_name"] }, leader, (set, part) => {
      for (const job of part.dispatcher.list()) {
        if (job.isTerminal) continue;
        for (const v of job.graph.vertices) {
          set({ job_id: job.id, vertex_id: v.id, vertex_name: v.name }, value(vertexRates(measuredSubtasks(job, part.metricsHistory, v.id))));
        }
      }
    });
  vertexGauge("riffle_vertex_numRecordsInPerSecond", "Records the vertex's subtasks read per second, summed", (r) => r.numRecordsInPerSecond);
  vertexGauge("riffle_vertex_numRecordsOutPerSecond", "Records the vertex's subtasks write per second, summed", (r) => r.numRecordsOutPerSecond);
  vertexGauge(
    "riffle_vertex_sourceNumRecordsOutPerSecond",
    "Records the vertex's source emits per second into its chain, networked or not (Flink: the source operator's numRecordsOutPerSecond), summed",
    (r) => r.sourceNumRecordsOutPerSecond,
  );
  vertexGauge("riffle_vertex_busyTimeMsPerSecond", "Busy milliseconds per second of the vertex's busiest subtask", (r) => r.busyTimeMsPerSecond);
  vertexGauge("riffle_vertex_idleTimeMsPerSecond", "Idle milliseconds per second of the vertex's idlest subtask", (r) => r.idleTimeMsPerSecond);
  vertexGauge(
    "riffle_vertex_backPressuredTimeMsPerSecond",
    "Back-pressured milliseconds per second of the vertex's most back-pressured subtask (ratio = this / 1000: OK <= 0.1 < LOW <= 0.5 < HIGH)",
    (r) => r.backPressuredTimeMsPerSecond,
  );
  vertexGauge("riffle_vertex_outPoolUsage", "Fraction (0..1) of its output buffers the vertex's fullest subtask holds", (r) => r.outPoolUsage);
  vertexGauge("riffle_vertex_inPoolUsage", "Fraction (0..1) of its input buffers the vertex's fullest subtask holds", (r) => r.inPoolUsage);
  vertexGauge(
    "riffle_vertex_pendingRecords",
    "Records the vertex's source subtasks have not read yet, summed (sources that know their backlog only)",
    (r) => r.pendingRecords,
  );
  return { metrics, haMetrics };
}
