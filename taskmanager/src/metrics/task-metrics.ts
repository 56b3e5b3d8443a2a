import { AggregatorRegistry, Gauge, Registry } from "prom-client";
import type { SlotSnapshot, TaskSnapshot } from "../slot/protocol.js";
import { TASK_LABELS } from "./labels.js";

function labelsOf(t: TaskSnapshot) {
  return { job_id: t.report.jobId, vertex_id: t.report.vertexId, task_name: t.taskName, subtask_index: String(t.report.subtaskIndex) };
}

/**
 * Prometheus view of the running tasks (Flink's names with a riffle_task_ prefix) and of each slot's
 * network memory and heap, read at scrape time from the snapshots the slots' workers send every
 * second.
 */
export function registerTaskMetrics(registry: Registry, tasks: () => Iterable<TaskSnapshot>, slots: () => ReadonlyMap<number, SlotSnapshot>): void {
  const gauge = (name: string, help: string, read: (t: TaskSnapshot) => number) =>
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
  gauge("numRecordsIn", "Records the task has read from its inputs.", (t) => t.report.recordsIn);
  gauge("numRecordsOut", "Records the task has written to its network outputs.", (t) => t.report.recordsOut);
  gauge(
    "numBytesIn",
    "Bytes of record frames the task has read from network segments (headers, timestamps, payloads; local channels included).",
    (t) => t.report.bytesIn,
  );
  gauge("numBytesOut", "Bytes of record frames the task has written into network segments: equals what its consumers read.", (t) => t.report.bytesOut);
  gauge("numRecordsInPerSecond", "Records read per second.", (t) => t.recordsInPerSecond);
  gauge("numRecordsOutPerSecond", "Records written per second.", (t) => t.recordsOutPerSecond);
  gauge(
    "busyTimeMsPerSecond",
    "Milliseconds per second the task was running its code (a sink waiting on its own writes included).",
    (t) => t.report.busyMsPerSecond,
  );
  gauge("idleTimeMsPerSecond", "Milliseconds per second the task waited for input.", (t) => t.report.idleMsPerSecond);
  gauge(
    "backPressuredTimeMsPerSecond",
    "Milliseconds per second the task waited for an output segment or queue room.",
    (t) => t.report.backPressuredMsPerSecond,
  );
  gauge(
    "numLateRecordsDropped",
    "Records the task's window operators and interval joins dropped as late (no late-data side output was set).",
    (t) => t.numLateRecordsDropped,
  );
  gauge("outPoolUsage", "Fraction (0..1) of the segments the task's outputs may hold that they hold.", (t) => t.report.outPoolUsage);
  gauge("inPoolUsage", "Fraction (0..1) of the buffers the task's input channels may hold that they hold.", (t) => t.report.inPoolUsage);
  gauge(
    "pendingRecords",
    "Records the task's source has not read yet, where it knows them (a rate-limited datagen's backlog); -1 when it cannot tell or the task is no source.",
    (t) => t.report.pendingRecords,
  );
  gauge(
    "sourceNumRecordsOut",
    "Records the task's source emitted into its chain, whether they leave over the network or not (Flink: the source operator's numRecordsOut); 0 when the task is no source.",
    (t) => t.report.sourceRecordsOut,
  );
  gauge("inputQueueLength", "Buffers received and not yet processed.", (t) => t.inputQueueLength);
  gauge(
    "outputSpilledBytes",
    "Bytes of the task's output waiting for network segments: what one input record produced after its slot's segments ran out.",
    (t) => t.outputSpilledBytes,
  );
  gauge(
    "currentInputWatermark",
    "Event time (ms) the task's inputs reached: the minimum over its active input channels; -(2^53-1) before any watermark and for sources.",
    (t) => t.report.currentInputWatermark,
  );
  gauge(
    "currentOutputWatermark",
    "The last watermark (ms) the task's last operators emitted: the lowest over its network outputs and the operators ending its chain (sinks); -(2^53-1) before any.",
    (t) => t.report.currentOutputWatermark,
  );

  const slotGauge = (name: string, help: string, read: (s: SlotSnapshot) => number) =>
    new Gauge({
      name: `riffle_taskmanager_slot_${name}`,
      help,
      labelNames: ["slot"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [slot, s] of slots()) this.set({ slot: String(slot) }, read(s));
      },
    });
  slotGauge("network_segments_total", "Network segments of the slot (its share of taskmanager.memory.network.size).", (s) => s.segmentsTotal);
  slotGauge("network_segments_available", "Network segments of the slot not in use.", (s) => s.segmentsAvailable);
  slotGauge("heap_used_bytes", "JavaScript heap in use by the slot's worker thread.", (s) => s.heapUsedBytes);
  slotGauge("heap_total_bytes", "JavaScript heap the slot's worker thread has committed.", (s) => s.heapTotalBytes);
  slotGauge("heap_limit_bytes", "JavaScript heap limit of the slot's worker thread.", (s) => s.heapLimitBytes);
}

/**
 * The text of /metrics: the process's own registry, and the user metrics of every slot merged into
 * one family per metric name (each slot's worker has its own registry).
 */
export async function metricsText(registry: Registry, slots: Iterable<SlotSnapshot>): Promise<string> {
  const user = [...slots].map((s) => s.userMetrics).filter((m) => m.length > 0);
  if (user.length === 0) return registry.metrics();
  // Series of different tasks have different labels, so summing (the aggregator's default) keeps each.
  return Registry.merge([registry, AggregatorRegistry.aggregate(user)]).metrics();
}
