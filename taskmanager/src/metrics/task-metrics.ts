import { Counter, Gauge, type Registry } from "@riffle/shared";
import type { MetricGroup } from "@riffle/sdk";
import { TaskMetrics } from "../task/metrics.js";
import type { Task } from "../task/task.js";
import type { NetworkBufferPool } from "../network/index.js";

const TASK_LABELS = ["job_id", "vertex_id", "task_name", "subtask_index"] as const;

function labelsOf(task: Task) {
  return {
    job_id: task.tdd.jobId,
    vertex_id: task.tdd.vertexId,
    task_name: task.vertex.name,
    subtask_index: String(task.tdd.subtaskIndex),
  };
}

/**
 * Prometheus view of the running tasks, read at scrape time (Flink's names with a riffle_task_
 * prefix), and of the network buffer pool.
 */
export function registerTaskMetrics(registry: Registry, tasks: () => Iterable<Task>, pool: NetworkBufferPool): void {
  const gauge = (name: string, help: string, read: (t: Task) => number) =>
    new Gauge({
      name: `riffle_task_${name}`,
      help,
      labelNames: TASK_LABELS,
      registers: [registry],
      collect() {
        this.reset();
        for (const t of tasks()) this.set(labelsOf(t), read(t));
      },
    });
  gauge("numRecordsIn", "Records the task has read from its inputs.", (t) => t.metrics.recordsIn);
  gauge("numRecordsOut", "Records the task has written to its network outputs.", (t) => t.recordsOut);
  // Local channels hand records over by reference: no bytes exist to count, and an estimate would
  // not be a measurement. The byte counters are therefore remote-only (Flink's numBytesInRemote).
  gauge(
    "numBytesIn",
    "Bytes the task has decoded from buffers received from other TaskManagers (record payload plus 8 per event timestamp); records from the same TaskManager are passed by reference and not counted.",
    (t) => t.metrics.bytesIn,
  );
  gauge(
    "numBytesOut",
    "Bytes of the task's records encoded for consumers on other TaskManagers (record payload plus 8 per event timestamp); records for the same TaskManager are passed by reference and not counted.",
    (t) => t.bytesOut,
  );
  gauge("numRecordsInPerSecond", "Records read per second.", (t) => t.metrics.recordsInRate.rate());
  gauge("numRecordsOutPerSecond", "Records written per second.", (t) => t.metrics.recordsOutRate.rate());
  gauge("busyTimeMsPerSecond", "Milliseconds per second the task was running its code.", (t) => TaskMetrics.perSecond(t.metrics.busy));
  gauge("idleTimeMsPerSecond", "Milliseconds per second the task waited for input.", (t) => TaskMetrics.perSecond(t.metrics.idle));
  gauge("backPressuredTimeMsPerSecond", "Milliseconds per second the task waited for output buffers.", (t) => TaskMetrics.perSecond(t.metrics.backPressured));
  gauge(
    "numLateRecordsDropped",
    "Records the task's window operators and interval joins dropped as late (no late-data side output was set).",
    (t) => t.numLateRecordsDropped,
  );
  gauge("outPoolUsage", "Fraction of the task's output subpartition queues in use.", (t) => t.outPoolUsage());
  gauge("inputQueueLength", "Buffers received and not yet processed.", (t) => t.inputQueueLength());
  gauge(
    "currentInputWatermark",
    "Event time (ms) the task's inputs reached: the minimum over its active input channels; -(2^53-1) before any watermark and for sources.",
    (t) => t.currentInputWatermark,
  );
  gauge(
    "currentOutputWatermark",
    "The last watermark (ms) the task's last operators emitted: the lowest over its network outputs and the operators ending its chain (sinks); -(2^53-1) before any.",
    (t) => t.currentOutputWatermark,
  );

  new Gauge({
    name: "riffle_taskmanager_network_buffers_total",
    help: "Network buffers of this TaskManager.",
    registers: [registry],
    collect() {
      this.set(pool.totalBuffers);
    },
  });
  new Gauge({
    name: "riffle_taskmanager_network_buffers_available",
    help: "Network buffers not in use.",
    registers: [registry],
    collect() {
      this.set(pool.availableBuffers);
    },
  });
}

/** User metrics: `riffle_user_<name>` with the task's labels. */
export function userMetricGroup(registry: Registry, labels: Record<(typeof TASK_LABELS)[number], string>): MetricGroup {
  const metricName = (name: string) => {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) throw new Error(`invalid metric name "${name}": use letters, digits and _`);
    return `riffle_user_${name}`;
  };
  return {
    counter(name, help = name) {
      const full = metricName(name);
      const existing = registry.getSingleMetric(full) as Counter<string> | undefined;
      const counter = existing ?? new Counter({ name: full, help, labelNames: TASK_LABELS, registers: [registry] });
      const child = counter.labels(labels);
      return { inc: (by = 1) => child.inc(by) };
    },
    gauge(name, read, help = name) {
      const full = metricName(name);
      const readers = gaugeReaders.get(full) ?? new Map<string, { labels: typeof labels; read: () => number }>();
      gaugeReaders.set(full, readers);
      readers.set(JSON.stringify(labels), { labels, read });
      if (!registry.getSingleMetric(full)) {
        new Gauge({
          name: full,
          help,
          labelNames: TASK_LABELS,
          registers: [registry],
          collect() {
            this.reset();
            for (const r of readers.values()) this.set(r.labels, r.read());
          },
        });
      }
    },
  };
}

const gaugeReaders = new Map<string, Map<string, { labels: Record<string, string>; read: () => number }>>();

export { labelsOf };
