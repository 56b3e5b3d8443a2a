import { Gauge, createRegistry, type Registry } from "@riffle/shared";
import type { Dispatcher } from "./dispatcher/index.js";
import type { TaskManagerRegistry } from "./registry/index.js";
import { JOB_STATUSES } from "./store/index.js";

/** The JobManager's Prometheus registry; cluster gauges are read from the live state at each scrape. */
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
  return metrics;
}
