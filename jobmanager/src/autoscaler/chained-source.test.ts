import { type JobGraph, ManualClock, type TaskMetricsReport, loadConfig } from "@riffle/shared";
import { describe, expect, it } from "vitest";
import { MetricsHistory, jobThroughput, subtaskMetricValues } from "../metrics/index.js";
import type { Execution, JobMaster } from "../scheduler/index.js";
import { decide, evaluate, summarize, topologyOf, type MetricsSample } from "./algorithm.js";
import { collectSample } from "./collect.js";
import { resolveAutoscalerSettings } from "./settings.js";

/**
 * A job chained into one vertex (Kafka → map → Kafka at one parallelism) writes nothing to the
 * network and reads nothing from it: its task's network counters stay 0 while its source reads
 * hundreds of records a second. The JobManager takes a source's rate from what its source operator
 * emits (sourceRecordsOut), so the job's throughput and the autoscaler's rates are the real ones.
 */
const graph: JobGraph = {
  name: "chained",
  maxParallelism: 128,
  bufferTimeoutMs: 100,
  checkpointing: { intervalMs: 1000 },
  functionCount: 3,
  vertices: [{ id: "v1", name: "Source: kafka -> Map -> Sink: kafka", parallelism: 1, maxParallelism: 128, operators: [], inputs: [], outputs: [] }],
  edges: [],
};

const execution: Execution = {
  executionId: "job-v1-0-0",
  vertexId: "v1",
  vertexName: "Source: kafka -> Map -> Sink: kafka",
  subtask: 0,
  parallelism: 1,
  attempt: 0,
  slot: { taskmanagerId: "tm", index: 0 } as Execution["slot"],
  state: "RUNNING",
  stateTimestamps: {},
};

/** What collectSample and jobThroughput read of a JobMaster: its id, graph and executions. */
const job = { id: "job", graph, executionList: () => [execution] } as unknown as JobMaster;

function report(seconds: number, busyMsPerSecond: number, rate: number, pending: number): TaskMetricsReport {
  return {
    executionId: "job-v1-0-0",
    jobId: "job",
    vertexId: "v1",
    subtaskIndex: 0,
    // Network counters: nothing in, nothing out.
    recordsIn: 0,
    recordsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    busyMsPerSecond,
    idleMsPerSecond: 1000 - busyMsPerSecond,
    backPressuredMsPerSecond: 0,
    currentInputWatermark: Number.MIN_SAFE_INTEGER,
    currentOutputWatermark: Number.MIN_SAFE_INTEGER,
    outPoolUsage: 0,
    inPoolUsage: 0,
    pendingRecords: pending,
    measuredAtMs: 1_000_000 + seconds * 1000,
    sourceRecordsOut: rate * seconds,
  };
}

describe("a source chained to its sink", () => {
  it("is measured by what its source emits: job throughput, subtask metrics, autoscaler samples", () => {
    const clock = new ManualClock(1_000_000);
    const history = new MetricsHistory({ windowMs: 300_000, reportIntervalMs: 2_000, clock });
    const settings = resolveAutoscalerSettings(
      loadConfig({ env: {}, file: "/dev/null", overrides: { "job.autoscaler.enabled": true, "job.autoscaler.catch-up.duration": "0s" } }),
      {},
    );
    // 500 records/s read at full busy time while 800/s arrive: the backlog grows 300/s.
    const samples: MetricsSample[] = [];
    for (let s = 0; s <= 120; s += 2) {
      history.record(report(s, 1000, 500, 300 * s));
      if (s % 10 === 0) {
        const sample = collectSample(job, history, clock.now());
        if (sample) samples.push(sample);
      }
      clock.advance(2_000);
    }
    expect(jobThroughput(job, history)).toEqual({ numRecordsOutPerSecond: 500, numRecordsInPerSecond: 500 });
    const current = history.job("job")!.current("v1", 0, "job-v1-0-0")!;
    expect(subtaskMetricValues(current, true, true)).toMatchObject({ "Source.numRecordsOut": 60_000, "Source.numRecordsOutPerSecond": 500, numRecordsIn: 0 });
    expect(samples.at(-1)!.vertices.v1).toMatchObject({ inputRate: 500, outputRate: 0, counts: { recordsIn: 60_000, recordsOut: 0 } });

    const topology = topologyOf(graph);
    const e = evaluate(topology, summarize(samples), settings);
    expect(e.v1!.trueProcessingRate).toBeCloseTo(500);
    expect(e.v1!.targetDataRate).toBeCloseTo(800);
    const d = decide(topology, e, settings);
    // 800/s at a target utilization of 0.7 needs 1143/s: 3 subtasks of 500/s.
    expect(d.v1).toMatchObject({ direction: "up", current: 1, recommended: 3 });
  });
});
