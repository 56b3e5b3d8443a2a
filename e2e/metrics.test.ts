import type {
  AggregatedMetrics,
  JobAutoscalerInfo,
  JobMetricsHistory,
  JobVertexBackPressure,
  MetricCollection,
  TaskManagerDetailsInfo,
  TaskManagersInfo,
} from "@riffle/shared/rest-api";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { TestCluster, metricValue } from "./harness/index.js";

/**
 * Metrics at the JobManager (issue 12, point 1): the rates and back-pressure levels it serves from
 * its history of the TaskManagers' heartbeat reports agree with what the TaskManagers measure, for a
 * job whose slow sink holds its source back (HIGH at the source) and one that runs freely (OK).
 */
describe("metrics at the JobManager", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await TestCluster.start({ taskmanagers: 2, taskmanager: { "taskmanager.slots": 2 }, config: { "heartbeat.interval": "500ms" } });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  /** The TaskManagers' own reading of a task metric, summed over subtasks (or the highest). */
  async function measuredByTaskManagers(name: string, labels: Record<string, string>, combine: "sum" | "max"): Promise<number> {
    let total = 0;
    for (const tm of cluster.taskmanagers) {
      const text = await cluster.metrics(tm);
      for (const subtask of ["0", "1"]) {
        const v = metricValue(text, name, { ...labels, subtask_index: subtask });
        if (v === undefined) continue;
        total = combine === "sum" ? total + v : Math.max(total, v);
      }
    }
    return total;
  }

  it("reports HIGH back-pressure at a source held back by a slow sink, and the sink's level as its TaskManagers measure it", async () => {
    const jobId = await cluster.submit("e2e/jobs/slow-sink.ts");
    const job = await cluster.waitForStatus(jobId, "RUNNING");
    const [source, sink] = job.vertices;
    const backPressure = async (vid: string) => (await cluster.rest<JobVertexBackPressure>("GET", `/jobs/${jobId}/vertices/${vid}/backpressure`)).body;

    await vi.waitFor(
      async () => {
        const bp = await backPressure(source!.id);
        expect(bp["backpressure-level"]).toBe("high");
        expect(bp.subtasks.map((s) => s["backpressure-level"])).toEqual(["high", "high"]);
        // The TaskManagers' own per-second reading, taken a moment apart: both well above HIGH's threshold.
        const tmRatio = (await measuredByTaskManagers("riffle_task_backPressuredTimeMsPerSecond", { job_id: jobId, vertex_id: source!.id }, "max")) / 1000;
        expect(tmRatio).toBeGreaterThan(0.5);
        expect(Math.abs(Math.max(...bp.subtasks.map((s) => s.ratio)) - tmRatio)).toBeLessThan(0.3);
      },
      { timeout: 20_000, interval: 250 },
    );
    // The sink's level is whatever its TaskManagers measure (time its task waits for the sink to take
    // more counts as back-pressure there): the JobManager must agree with them, not guess.
    await vi.waitFor(
      async () => {
        const sinkBp = await backPressure(sink!.id);
        expect(sinkBp.subtasks.map((s) => s.attemptNumber)).toEqual([0, 0]);
        const tmRatio = (await measuredByTaskManagers("riffle_task_backPressuredTimeMsPerSecond", { job_id: jobId, vertex_id: sink!.id }, "max")) / 1000;
        expect(Math.abs(Math.max(...sinkBp.subtasks.map((s) => s.ratio)) - tmRatio)).toBeLessThan(0.3);
      },
      { timeout: 10_000, interval: 250 },
    );

    // The same numbers on the JobManager's Prometheus endpoint, per job and vertex.
    const text = await (await fetch(`${cluster.restUrl}/metrics`)).text();
    expect(metricValue(text, "riffle_vertex_backPressuredTimeMsPerSecond", { job_id: jobId, vertex_id: source!.id })).toBeGreaterThan(500);
    expect(metricValue(text, "riffle_vertex_numRecordsInPerSecond", { job_id: jobId, vertex_id: sink!.id })).toBeGreaterThan(0);

    const unknown = await cluster.rest<{ code: string }>("GET", `/jobs/${jobId}/vertices/v9/backpressure`);
    expect([unknown.status, unknown.body.code]).toEqual([404, "NOT_FOUND"]);
    await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`);
    await cluster.waitForStatus(jobId, "CANCELED");
  }, 60_000);

  it("serves the backlog of a rate-limited source held back by a slow sink (pendingRecords) as the TaskManagers measure it", async () => {
    // 6 000 records/s asked of a pipeline whose two sink subtasks take about 1 000 each: a backlog
    // of about 4 000 more records every second.
    const jobId = await cluster.submit("e2e/jobs/slow-sink.ts", { args: ["--rate", "6000"] });
    const job = await cluster.waitForStatus(jobId, "RUNNING");
    const source = job.vertices[0]!;
    const pending = async () => {
      const agg = (await cluster.rest<AggregatedMetrics>("GET", `/jobs/${jobId}/vertices/${source.id}/subtasks/metrics?get=pendingRecords&agg=sum`)).body;
      return agg[0]?.sum;
    };
    const first = await vi.waitFor(
      async () => {
        const fromJobManager = await pending();
        expect(fromJobManager).toBeGreaterThan(1_000);
        return fromJobManager!;
      },
      { timeout: 20_000, interval: 250 },
    );
    await vi.waitFor(
      async () => {
        const fromJobManager = (await pending())!;
        expect(fromJobManager).toBeGreaterThan(first + 2_000);
        // Both sides read a growing number at slightly different moments: agree within a second's growth.
        const fromTaskManagers = await measuredByTaskManagers("riffle_task_pendingRecords", { job_id: jobId, vertex_id: source.id }, "sum");
        expect(Math.abs(fromJobManager - fromTaskManagers)).toBeLessThan(6_000);
        const text = await (await fetch(`${cluster.restUrl}/metrics`)).text();
        expect(metricValue(text, "riffle_vertex_pendingRecords", { job_id: jobId, vertex_id: source.id })).toBeGreaterThan(first);
      },
      { timeout: 20_000, interval: 250 },
    );
    // The sink has no source: it knows no backlog, and serves none.
    const sinkNames = (await cluster.rest<MetricCollection>("GET", `/jobs/${jobId}/vertices/${job.vertices[1]!.id}/subtasks/metrics`)).body.map((m) => m.id);
    expect(sinkNames).not.toContain("pendingRecords");
    await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`);
    await cluster.waitForStatus(jobId, "CANCELED");
  }, 60_000);

  it("serves a free-running job's rates (OK everywhere) as the TaskManagers measure them, with a history for charts", async () => {
    const jobId = await cluster.submit("e2e/jobs/unbounded.ts", { parallelism: 2, args: ["--rate", "3000"] });
    const job = await cluster.waitForStatus(jobId, "RUNNING");
    const source = job.vertices[0]!;
    const sourceLabels = { job_id: jobId, vertex_id: source.id };

    // 3 000 records/s from the datagen (split over its subtasks): the JobManager's rate over its
    // history and the TaskManagers' own per-second meters both see it. A loaded machine may hold the
    // source below its rate: the two measurements must agree, the rate only be of the right order.
    await vi.waitFor(
      async () => {
        const agg = (
          await cluster.rest<AggregatedMetrics>("GET", `/jobs/${jobId}/vertices/${source.id}/subtasks/metrics?get=numRecordsOutPerSecond&agg=sum,max`)
        ).body;
        expect(agg).toHaveLength(1);
        const fromJobManager = agg[0]!.sum!;
        const fromTaskManagers = await measuredByTaskManagers("riffle_task_numRecordsOutPerSecond", sourceLabels, "sum");
        expect(fromJobManager).toBeGreaterThan(3_000 * 0.5);
        expect(fromJobManager).toBeLessThan(3_000 * 1.3);
        expect(Math.abs(fromJobManager - fromTaskManagers)).toBeLessThan(fromTaskManagers * 0.3);
        expect(agg[0]!.max!).toBeLessThan(fromJobManager);
      },
      { timeout: 20_000, interval: 250 },
    );
    // A measured "ok" on every subtask (one not measured yet is left out, and the vertex reads "deprecated" before any is).
    await vi.waitFor(
      async () => {
        for (const v of job.vertices) {
          const bp = (await cluster.rest<JobVertexBackPressure>("GET", `/jobs/${jobId}/vertices/${v.id}/backpressure`)).body;
          expect([bp.status, bp["backpressure-level"], bp.subtasks.length], v.name).toEqual(["ok", "ok", v.parallelism]);
        }
      },
      { timeout: 10_000, interval: 250 },
    );

    const names = (await cluster.rest<MetricCollection>("GET", `/jobs/${jobId}/vertices/${source.id}/subtasks/metrics`)).body.map((m) => m.id);
    expect(names).toEqual(
      expect.arrayContaining(["numRecordsIn", "numRecordsOutPerSecond", "busyTimeMsPerSecond", "backPressuredTimeMsPerSecond", "currentOutputWatermark"]),
    );
    const badAgg = await cluster.rest<{ code: string; message: string }>(
      "GET",
      `/jobs/${jobId}/vertices/${source.id}/subtasks/metrics?get=numRecordsIn&agg=median`,
    );
    expect([badAgg.status, badAgg.body.code]).toEqual([400, "BAD_REQUEST"]);
    expect(badAgg.body.message).toContain("unknown aggregation median");

    // Per-second rates: one reading can dip while the source waits for the CPU, so poll for them.
    await vi.waitFor(
      async () => {
        const jobMetrics = (await cluster.rest<MetricCollection>("GET", `/jobs/${jobId}/metrics?get=numRecordsOutPerSecond,numRestarts`)).body;
        expect(jobMetrics.map((m) => m.id)).toEqual(["numRecordsOutPerSecond", "numRestarts"]);
        expect(Number(jobMetrics[0]!.value)).toBeGreaterThan(3_000 * 0.5);
        expect(jobMetrics[1]!.value).toBe("0");
        const overview = (await cluster.rest<{ jobs: Array<{ jid: string; metrics: { numRecordsOutPerSecond: number } }> }>("GET", "/jobs/overview")).body;
        expect(overview.jobs.find((j) => j.jid === jobId)!.metrics.numRecordsOutPerSecond).toBeGreaterThan(3_000 * 0.5);
      },
      { timeout: 10_000, interval: 250 },
    );

    // The charts' history: a point per heartbeat interval (500 ms here), then only newer ones.
    const history = await vi.waitFor(
      async () => {
        const h = (await cluster.rest<JobMetricsHistory>("GET", `/jobs/${jobId}/metrics/history`)).body;
        expect(h.vertices[source.id]!.length).toBeGreaterThan(3);
        expect(h.vertices[source.id]!.at(-1)!.numRecordsOutPerSecond).toBeGreaterThan(3_000 * 0.3);
        return h;
      },
      { timeout: 10_000, interval: 250 },
    );
    expect(history.step).toBe(500);
    const points = history.vertices[source.id]!;
    expect(points.every((p, i) => i === 0 || p.t - points[i - 1]!.t === 500)).toBe(true);
    await vi.waitFor(
      async () => {
        const newer = (await cluster.rest<JobMetricsHistory>("GET", `/jobs/${jobId}/metrics/history?since=${history.until}`)).body;
        expect(newer.vertices[source.id]!.length).toBeGreaterThan(0);
        expect(newer.vertices[source.id]!.every((p) => p.t > history.until)).toBe(true);
      },
      { timeout: 10_000, interval: 250 },
    );
    await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`);
    await cluster.waitForStatus(jobId, "CANCELED");
  }, 60_000);

  it("measures a job chained into one vertex (datagen → map → sink) by what its source emits: job rates, subtask metrics, autoscaler", async () => {
    // Nothing crosses the network: the task's network counters read 0 while the source emits 1 500/s.
    const dryRun = {
      "job.autoscaler.scaling.enabled": false,
      "job.autoscaler.interval": "1s",
      "job.autoscaler.metrics.window": "4s",
      "job.autoscaler.stabilization.interval": "1s",
    };
    const jobId = await cluster.submit("e2e/jobs/chained.ts", { args: ["--rate", "1500", "--autoscaler", JSON.stringify(dryRun)] });
    const job = await cluster.waitForStatus(jobId, "RUNNING");
    expect(job.vertices).toHaveLength(1);
    const vertex = job.vertices[0]!;
    const labels = { job_id: jobId, vertex_id: vertex.id };
    await vi.waitFor(
      async () => {
        const jobMetrics = (await cluster.rest<MetricCollection>("GET", `/jobs/${jobId}/metrics?get=numRecordsOutPerSecond,numRecordsInPerSecond`)).body;
        const [out, into] = jobMetrics.map((m) => Number(m.value));
        expect(out).toBeGreaterThan(1_500 * 0.5);
        expect(out).toBeLessThan(1_500 * 1.3);
        expect(into).toBe(out);
        const agg = (
          await cluster.rest<AggregatedMetrics>(
            "GET",
            `/jobs/${jobId}/vertices/${vertex.id}/subtasks/metrics?get=Source.numRecordsOutPerSecond,numRecordsOutPerSecond&agg=sum`,
          )
        ).body;
        expect(agg.map((m) => m.id)).toEqual(["Source.numRecordsOutPerSecond", "numRecordsOutPerSecond"]);
        expect(agg[0]!.sum).toBeGreaterThan(1_500 * 0.5);
        expect(agg[1]!.sum).toBe(0);
        // The TaskManager counts the same records (its counter, read a moment apart).
        const counted = await measuredByTaskManagers("riffle_task_sourceNumRecordsOut", labels, "sum");
        expect(counted).toBeGreaterThan(0);
        const text = await (await fetch(`${cluster.restUrl}/metrics`)).text();
        expect(metricValue(text, "riffle_vertex_sourceNumRecordsOutPerSecond", labels)).toBeGreaterThan(1_500 * 0.5);
        expect(metricValue(text, "riffle_job_numRecordsOutPerSecond", { job_id: jobId })).toBeGreaterThan(1_500 * 0.5);
        // The charts' history too (the dashboard's job throughput).
        const points = (await cluster.rest<JobMetricsHistory>("GET", `/jobs/${jobId}/metrics/history`)).body.vertices[vertex.id]!;
        expect(points.at(-1)!.sourceNumRecordsOutPerSecond).toBeGreaterThan(1_500 * 0.3);
      },
      { timeout: 20_000, interval: 250 },
    );
    // The autoscaler (dry run) sizes the vertex on that rate: a true processing rate, not "busy
    // without processing records".
    await vi.waitFor(
      async () => {
        const info = (await cluster.rest<JobAutoscalerInfo>("GET", `/jobs/${jobId}/autoscaler`)).body;
        const m = info.vertices[0]!.metrics;
        expect(m).not.toBeNull();
        expect(m!.numRecordsInPerSecond).toBeGreaterThan(1_500 * 0.5);
        expect(m!.numRecordsOutPerSecond).toBe(0);
        expect(m!.trueProcessingRate === null || m!.trueProcessingRate > m!.numRecordsInPerSecond).toBe(true);
        expect(info.vertices[0]!.reason ?? "").not.toMatch(/busy without processing records/);
      },
      { timeout: 30_000, interval: 500 },
    );
    await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`);
    await cluster.waitForStatus(jobId, "CANCELED");
  }, 60_000);

  it("reads memory, event-loop lag and network buffers from each TaskManager", async () => {
    const { taskmanagers } = (await cluster.rest<TaskManagersInfo>("GET", "/taskmanagers")).body;
    expect(taskmanagers).toHaveLength(2);
    const details = (await cluster.rest<TaskManagerDetailsInfo>("GET", `/taskmanagers/${taskmanagers[0]!.id}`)).body;
    expect(details.metricsError).toBeUndefined();
    expect(details.metrics!.rss).toBeGreaterThan(10 * 1024 * 1024);
    expect(details.metrics!.heapUsed).toBeGreaterThan(0);
    expect(details.metrics!.nettyShuffleMemorySegmentsTotal).toBe(2048);
    const agg = (
      await cluster.rest<AggregatedMetrics>("GET", "/taskmanagers/metrics?get=Status.Process.Memory.RSS,Status.Shuffle.Netty.TotalMemorySegments&agg=min,sum")
    ).body;
    expect(agg.map((m) => m.id)).toEqual(["Status.Process.Memory.RSS", "Status.Shuffle.Netty.TotalMemorySegments"]);
    expect(agg[1]).toEqual({ id: "Status.Shuffle.Netty.TotalMemorySegments", min: 2048, sum: 4096 });
  });
});
