import type { TaskMetricsReport } from "@riffle/shared";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { aggregate } from "../rest/metric-routes.js";
import { MetricsHistory } from "./history.js";
import { backPressureLevel } from "./job-metrics.js";

const MIN_WATERMARK = Number.MIN_SAFE_INTEGER;

function report(overrides: Partial<TaskMetricsReport> & { executionId?: string }): TaskMetricsReport {
  return {
    executionId: "job-v1-0-0",
    jobId: "job",
    vertexId: "v1",
    subtaskIndex: 0,
    recordsIn: 0,
    recordsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    busyMsPerSecond: 0,
    idleMsPerSecond: 0,
    backPressuredMsPerSecond: 0,
    currentInputWatermark: MIN_WATERMARK,
    currentOutputWatermark: MIN_WATERMARK,
    ...overrides,
  };
}

/** A history fed every 2 s (the default heartbeat), as the TaskManagers' heartbeats feed it. */
function setup(windowMs = 60_000) {
  const clock = new ManualClock(1_000_000);
  const history = new MetricsHistory({ windowMs, reportIntervalMs: 2_000, clock });
  return { clock, history };
}

describe("MetricsHistory", () => {
  it("measures a subtask's rates over the rate window from its cumulative counts", () => {
    const { clock, history } = setup();
    for (let i = 0; i <= 5; i++) {
      history.record(report({ recordsIn: i * 2_000, recordsOut: i * 1_000, bytesOut: i * 10_000, busyMsPerSecond: 400 }));
      clock.advance(2_000);
    }
    // Latest at +10 s; the rate window (5 s) reaches back to the sample at +4 s: 6 000 records in 6 s.
    const m = history.job("job")!.current("v1", 0, "job-v1-0-0")!;
    expect(m.numRecordsInPerSecond).toBe(1_000);
    expect(m.numRecordsOutPerSecond).toBe(500);
    expect(m.numBytesOutPerSecond).toBe(5_000);
    expect(m.busyMsPerSecond).toBe(400);
    expect(history.job("job")!.current("v1", 0, "job-v1-0-1")).toBeUndefined();
  });

  it("charts a steady rate when heartbeats (500 ms) come twice per reading of the counters (1 s)", () => {
    const clock = new ManualClock(1_000_000);
    const history = new MetricsHistory({ windowMs: 60_000, reportIntervalMs: 500, clock });
    // 1 000 records/s, read once a second in the slot (measuredAtMs); each reading reported twice,
    // the heartbeats a little after the readings and at an irregular pace.
    for (let i = 0; i < 20; i++) {
      const reading = Math.floor(i / 2);
      history.record(report({ recordsIn: reading * 1_000, measuredAtMs: 5_000 + reading * 1_000 }));
      clock.advance(i % 3 === 0 ? 300 : 600);
    }
    const points = history.job("job")!.vertexSeries("v1", 1, 0);
    expect(points.length).toBeGreaterThan(10);
    for (const p of points) expect(p.numRecordsInPerSecond).toBe(1_000);
    expect(history.job("job")!.current("v1", 0, "job-v1-0-0")!.numRecordsInPerSecond).toBe(1_000);
    // Each reading is kept once.
    expect(history.job("job")!.subtask("v1", 0)!.size).toBe(10);
  });

  it("never measures a rate across two executions of a subtask (counters restart with each)", () => {
    const { clock, history } = setup();
    history.record(report({ recordsIn: 50_000 }));
    clock.advance(2_000);
    history.record(report({ recordsIn: 60_000 }));
    clock.advance(2_000);
    history.record(report({ executionId: "job-v1-0-1", recordsIn: 100 }));
    const jobHistory = history.job("job")!;
    expect(jobHistory.current("v1", 0, "job-v1-0-1")!.numRecordsInPerSecond).toBe(0);
    clock.advance(2_000);
    history.record(report({ executionId: "job-v1-0-1", recordsIn: 4_100 }));
    expect(jobHistory.current("v1", 0, "job-v1-0-1")!.numRecordsInPerSecond).toBe(2_000);
  });

  it("keeps a bounded window: samples older than the window go, and so do subtasks and jobs that stopped reporting", () => {
    const { clock, history } = setup(20_000);
    for (let i = 0; i < 100; i++) {
      history.record(report({ recordsIn: i }));
      history.record(report({ jobId: "other", executionId: "other-v1-0-0", recordsIn: i }));
      clock.advance(2_000);
    }
    // 20 s at one sample per 2 s: 10 or 11 samples per subtask, whatever ran before.
    expect(history.job("job")!.subtask("v1", 0)!.size).toBeLessThanOrEqual(11);
    expect(history.sampleCount).toBeLessThanOrEqual(22);
    for (let i = 0; i < 15; i++) {
      history.record(report({ recordsIn: 100 + i }));
      clock.advance(2_000);
    }
    expect(history.job("other")).toBeUndefined();
    expect(history.sampleCount).toBeLessThanOrEqual(11);
  });

  it("caps the samples of a subtask reporting faster than the heartbeat", () => {
    const { clock, history } = setup(20_000);
    for (let i = 0; i < 1_000; i++) {
      history.record(report({ recordsIn: i }));
      clock.advance(10);
    }
    // 2 × (20 s / 2 s) + 2: the cap holds even though all 1 000 samples are within the window.
    expect(history.job("job")!.subtask("v1", 0)!.size).toBe(22);
  });

  it("charts a vertex with one point per report interval, summing subtasks whose heartbeats arrive at different times", () => {
    const { clock, history } = setup();
    const start = clock.now();
    // Subtask 0 reports at even seconds, subtask 1 one second later; each reads 1 000 records/s.
    for (let i = 0; i <= 10; i++) {
      clock.advance(start + i * 1_000 - clock.now());
      const subtask = i % 2;
      const n = Math.floor(i / 2);
      history.record(
        report({
          executionId: `job-v1-${subtask}-0`,
          subtaskIndex: subtask,
          recordsIn: n * 2_000,
          backPressuredMsPerSecond: subtask === 1 ? 700 : 100,
        }),
      );
    }
    const points = history.job("job")!.vertexSeries("v1", 2, 0);
    expect(points.length).toBeGreaterThanOrEqual(3);
    for (const p of points) {
      expect(p.t % 2_000).toBe(0);
      expect(p.numRecordsInPerSecond).toBe(2_000);
      expect(p.backPressuredTimeMsPerSecond).toBe(700);
    }
    // Up to the oldest of the subtasks' latest reports, never past it.
    expect(points.at(-1)!.t).toBeLessThanOrEqual(start + 9_000);
    const later = history.job("job")!.vertexSeries("v1", 2, points.at(-2)!.t);
    expect(later).toEqual([points.at(-1)]);
  });

  it("passes on buffer usage once a TaskManager reports it", () => {
    const { history } = setup();
    history.record({ ...report({}), outPoolUsage: 0.75, inPoolUsage: 0.25 } as TaskMetricsReport);
    expect(history.job("job")!.current("v1", 0, "job-v1-0-0")).toMatchObject({ outPoolUsage: 0.75, inPoolUsage: 0.25 });
    history.record(report({ subtaskIndex: 1, executionId: "job-v1-1-0" }));
    expect(history.job("job")!.current("v1", 1, "job-v1-1-0")).not.toHaveProperty("outPoolUsage");
  });
});

describe("back-pressure levels and aggregation", () => {
  it("uses Flink's thresholds: OK ≤ 0.10 < LOW ≤ 0.5 < HIGH", () => {
    expect([0, 0.1, 0.1001, 0.5, 0.5001, 1].map(backPressureLevel)).toEqual(["ok", "ok", "low", "low", "high", "high"]);
  });

  it("aggregates the metrics asked for over the sources that have them, and lists names without `get`", () => {
    const values = [{ a: 1, b: 10 }, { a: 3 }, { a: 8, c: 5 }];
    expect(aggregate(values, undefined, ["min"])).toEqual([{ id: "a" }, { id: "b" }, { id: "c" }]);
    expect(aggregate(values, ["a", "b", "zzz"], ["min", "max", "avg", "sum"])).toEqual([
      { id: "a", min: 1, max: 8, avg: 4, sum: 12 },
      { id: "b", min: 10, max: 10, avg: 10, sum: 10 },
    ]);
    expect(aggregate(values, ["a"], ["max"])).toEqual([{ id: "a", max: 8 }]);
  });
});
