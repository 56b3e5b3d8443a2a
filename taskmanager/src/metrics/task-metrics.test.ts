import { describe, expect, it } from "vitest";
import { Counter, Registry } from "prom-client";
import type { SlotSnapshot, TaskSnapshot } from "../slot/protocol.js";
import { metricsText, registerTaskMetrics } from "./task-metrics.js";

const task: TaskSnapshot = {
  report: {
    executionId: "e1",
    jobId: "job-1",
    vertexId: "v2",
    subtaskIndex: 1,
    recordsIn: 10,
    recordsOut: 5,
    bytesIn: 100,
    bytesOut: 50,
    busyMsPerSecond: 0,
    idleMsPerSecond: 0,
    backPressuredMsPerSecond: 0,
    currentInputWatermark: 0,
    currentOutputWatermark: 0,
    outPoolUsage: 0.5,
    inPoolUsage: 0.25,
    pendingRecords: -1,
    measuredAtMs: 0,
    sourceRecordsOut: 0,
  },
  taskName: "Window(TumblingEventTimeWindows(10000))",
  recordsInPerSecond: 0,
  recordsOutPerSecond: 0,
  numLateRecordsDropped: 3,
  inputQueueLength: 0,
  outputSpilledBytes: 0,
};

async function userMetricsOf(labels: Record<string, string>, value: number) {
  const r = new Registry();
  new Counter({ name: "riffle_user_seen", help: "seen", labelNames: Object.keys(labels), registers: [r] }).inc(labels, value);
  return r.getMetricsAsJSON();
}

describe("task metrics", () => {
  it("reports a task's numbers from its slot's snapshot, labelled with the task", async () => {
    const registry = new Registry();
    const slot: SlotSnapshot = {
      tasks: [task],
      segmentsTotal: 4,
      segmentsAvailable: 3,
      heapUsedBytes: 1,
      heapTotalBytes: 1,
      heapLimitBytes: 2,
      userMetrics: [],
    };
    registerTaskMetrics(
      registry,
      () => [task],
      () => new Map([[0, slot]]),
    );
    const text = await registry.metrics();
    expect(text).toContain(
      'riffle_task_numLateRecordsDropped{job_id="job-1",vertex_id="v2",task_name="Window(TumblingEventTimeWindows(10000))",subtask_index="1"} 3',
    );
    expect(text).toContain('riffle_task_outPoolUsage{job_id="job-1",vertex_id="v2",task_name="Window(TumblingEventTimeWindows(10000))",subtask_index="1"} 0.5');
    expect(text).toContain('riffle_taskmanager_slot_network_segments_available{slot="0"} 3');
  });

  it("merges the user metrics of several slots into one family, keeping each task's series", async () => {
    const registry = new Registry();
    const a = await userMetricsOf({ subtask_index: "0" }, 2);
    const b = await userMetricsOf({ subtask_index: "1" }, 5);
    const slot = (userMetrics: SlotSnapshot["userMetrics"]): SlotSnapshot => ({
      tasks: [],
      segmentsTotal: 0,
      segmentsAvailable: 0,
      heapUsedBytes: 0,
      heapLimitBytes: 0,
      userMetrics,
    });
    const text = await metricsText(registry, [slot(a), slot(b)]);
    expect(text).toContain('riffle_user_seen{subtask_index="0"} 2');
    expect(text).toContain('riffle_user_seen{subtask_index="1"} 5');
  });
});
