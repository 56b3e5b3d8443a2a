import { Gauge, createRegistry, type Registry } from "@riffle/shared";
import type { Dispatcher } from "../dispatcher/index.js";
import type { TaskManagerRegistry } from "../registry/index.js";
import type { JobMaster } from "../scheduler/index.js";
import { JOB_STATUSES } from "../store/index.js";

/**
 * The JobManager's Prometheus registry; gauges are read from the live state at each scrape. Job
 * gauges (Flink's job-level metrics, label `job_id`) cover jobs that have not ended, as Flink drops
 * a job's metrics when it ends.
 */
export function createJobManagerMetrics(dispatcher: Dispatcher, registry: TaskManagerRegistry): Registry {
  const metrics = createRegistry("jobmanager");
  new Gauge({
    name: "riffle_jobmanager_taskmanagers",
    help: "TaskManagers registered with the JobManager",
    registers: [metrics],
    collect() {
      this.set(registry.slotCounts().taskmanagers);
    },
  });
  new Gauge({
    name: "riffle_jobmanager_slots_total",
    help: "Task slots offered by registered TaskManagers",
    registers: [metrics],
    collect() {
      this.set(registry.slotCounts().slotsTotal);
    },
  });
  new Gauge({
    name: "riffle_jobmanager_slots_available",
    help: "Task slots not held by any job",
    registers: [metrics],
    collect() {
      this.set(registry.slotCounts().slotsAvailable);
    },
  });
  new Gauge({
    name: "riffle_jobmanager_jobs",
    help: "Jobs known to the JobManager, by status",
    labelNames: ["status"],
    registers: [metrics],
    collect() {
      const counts = dispatcher.countByStatus();
      for (const status of JOB_STATUSES) this.set({ status }, counts[status]);
    },
  });
  const jobGauge = (name: string, help: string, value: (job: JobMaster) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ["job_id"],
      registers: [metrics],
      collect() {
        this.reset();
        for (const job of dispatcher.list()) {
          if (job.isTerminal) continue;
          const v = value(job);
          if (v !== undefined) this.set({ job_id: job.id }, v);
        }
      },
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
  return metrics;
}
