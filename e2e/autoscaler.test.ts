import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleJob } from "@riffle/cli";
import type { JobAutoscalerInfo, JobVertexBackPressure } from "@riffle/shared/rest-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestCluster, committedLines, mulberry32 } from "./harness/index.js";

/**
 * The autoscaler end to end on real processes: a source whose rate follows a scripted trace into a
 * vertex with a fixed cost per record (e2e/jobs/traced-load.ts), with the autoscaler's windows
 * shortened to seconds. Output is checked exactly through every rescale: each record once.
 */
const JOB = "e2e/jobs/traced-load.ts";
/** 20 ms a record: 50 records per second per Work subtask. */
const COST_MS = 20;

/** The job's autoscaler settings: the same algorithm as in production, on a timescale of seconds. */
const AUTOSCALER = {
  "job.autoscaler.interval": "1s",
  "job.autoscaler.metrics.window": "10s",
  "job.autoscaler.stabilization.interval": "3s",
  "job.autoscaler.catch-up.duration": "0s",
  "job.autoscaler.scale-down.interval": "10m",
  "job.autoscaler.vertex.max-parallelism": 6,
};

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "riffle-autoscaler-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Polls `probe` until `done` holds, or fails at the deadline. */
async function waitFor<T>(probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`not within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

/** What every correct run of a trace commits: the numbers 0..n-1, once each (sorted as strings, like committedLines). */
function expectedLines(n: number): string[] {
  return Array.from({ length: n }, (_, i) => String(i)).sort();
}

describe("autoscaler on a real cluster", () => {
  it("step up: rescales the slow vertex once, through a savepoint, to enough parallelism; back-pressure clears; every record once", async () => {
    // 30/s for 25 s (Work at 60% of one subtask), then 120/s for 45 s: 6150 records.
    const trace = "25:30,45:120";
    const total = 25 * 30 + 45 * 120;
    const out = join(work, "step-up");
    const cluster = await TestCluster.start({
      taskmanagers: 2,
      taskmanager: { "taskmanager.slots": 3 },
      config: { "heartbeat.interval": "500ms", "state.savepoints.dir": join(work, "savepoints") },
    });
    try {
      const jobId = await cluster.submit(JOB, {
        parallelism: 1,
        args: ["--out", out, "--trace", trace, "--cost-ms", String(COST_MS), "--autoscaler", JSON.stringify(AUTOSCALER)],
      });
      const job = await cluster.waitForStatus(jobId, "RUNNING");
      const source = job.vertices.find((v) => v.name === "Traced Source")!;
      const workVertex = job.vertices.find((v) => v.name.startsWith("Work"))!;

      // Before the step the autoscaler measures and keeps the job as it is.
      const scaled = await cluster.jobmanager.waitForLog((l) => l.autoscaler === "scaled", 90_000);
      const scaledAt = Date.now();
      const before = await cluster.rest<JobAutoscalerInfo>("GET", `/jobs/${jobId}/autoscaler`);
      expect(before.status).toBe(200);
      const rescale = before.body.history.find((e) => e.type === "scaled")!;
      expect(rescale.vertices).toEqual([expect.objectContaining({ vertexId: workVertex.id, from: 1 })]);
      const to = rescale.vertices[0]!.to;
      // 120/s at a target utilization of 0.7 is 171/s: 4 subtasks of ≤ 50/s (3 if they measure faster than 57/s).
      expect(to).toBeGreaterThanOrEqual(3);
      expect(to).toBeLessThanOrEqual(5);
      expect(rescale.vertices[0]!.reason).toMatch(/^scale up: utilization \d+%/);
      expect(scaled.msg).toContain(`Work`);
      // Not before the step showed: 25 s of trace, less what the first start took.
      expect(rescale.time - job["start-time"]).toBeGreaterThan(20_000);

      // Back-pressure at the source clears once the rescaled Work has worked off the backlog.
      const deadline = scaledAt + 40_000;
      let level = "";
      while (Date.now() < deadline) {
        const bp = await cluster.rest<JobVertexBackPressure>("GET", `/jobs/${jobId}/vertices/${source.id}/backpressure`);
        const details = await cluster.job(jobId);
        if (details.state !== "RUNNING") break;
        const rescaled = details.vertices.find((v) => v.id === workVertex.id)!;
        // Absent until the rescaled source's first report: wait for a measured "ok".
        level = bp.body["backpressure-level"] ?? "not measured";
        if (rescaled.parallelism === to && rescaled.tasks.RUNNING === to && level === "ok") break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(level).toBe("ok");

      const finished = await cluster.waitForStatus(jobId, "FINISHED", 90_000);
      expect(finished.vertices.find((v) => v.id === workVertex.id)!.parallelism).toBe(to);
      // One rescale for one load change.
      const after = await cluster.rest<JobAutoscalerInfo>("GET", `/jobs/${jobId}/autoscaler`);
      expect(after.body.history.map((e) => e.type)).toEqual(["scaled"]);
      expect(after.body.counts).toEqual({ rescales: 1, failures: 0, skipped: 0 });

      const lines = committedLines(out);
      expect(lines.length).toBe(total);
      expect(lines).toEqual(expectedLines(total));
    } finally {
      await cluster.stop();
    }
  }, 240_000);

  it("a vertex that cannot go faster, with TaskManagers from the process provider: one scale-up, found ineffective, none after it", async () => {
    // Work's 20 ms per record are paid under one lock for all its subtasks: 50/s in all, whatever its parallelism.
    const trace = "15:30,60:120";
    const out = join(work, "ineffective");
    const cluster = await TestCluster.start({
      taskmanagers: 0,
      config: { "heartbeat.interval": "500ms", "taskmanager.slots": 2 },
      jobmanager: {
        "state.savepoints.dir": join(work, "savepoints"),
        "resourcemanager.provider": "process",
        "resourcemanager.taskmanagers.max": 3,
        "resourcemanager.taskmanager-timeout": "5s",
      },
    });
    try {
      const jobId = await cluster.submit(JOB, {
        parallelism: 1,
        args: [
          "--out",
          out,
          "--trace",
          trace,
          "--cost-ms",
          String(COST_MS),
          "--shared-lock",
          join(work, "work.lock"),
          "--autoscaler",
          JSON.stringify(AUTOSCALER),
        ],
      });
      await cluster.waitForStatus(jobId, "RUNNING", 60_000);
      // The resource manager started a TaskManager for the job's one slot.
      await cluster.jobmanager.waitForLog((l) => /^provided TaskManager taskmanager-\w+ registered$/.test(String(l.msg)), 30_000);

      const ineffective = await cluster.jobmanager.waitForLog((l) => l.autoscaler === "ineffective", 120_000);
      expect(String(ineffective.msg)).toMatch(/ineffective scaling: the scale-up from 1 to \d raised the true processing rate by/);
      const info = (await cluster.rest<JobAutoscalerInfo>("GET", `/jobs/${jobId}/autoscaler`)).body;
      const scaled = info.history.filter((e) => e.type === "scaled");
      expect(scaled).toHaveLength(1);
      const to = scaled[0]!.vertices[0]!.to;
      expect(to).toBeGreaterThanOrEqual(3);
      // More parallelism than one TaskManager's 2 slots: the resource manager started another for the rescale.
      const tms = (await cluster.rest<{ taskmanagers: unknown[] }>("GET", "/taskmanagers")).body.taskmanagers;
      expect(tms.length).toBe(Math.ceil(to / 2));
      const workVertex = info.vertices.find((v) => v.name.startsWith("Work"))!;
      expect(workVertex).toMatchObject({ parallelism: to, scaleUpBlocked: true });

      // Later evaluations leave it there: still above its target utilization, and no second scale-up.
      const evaluated = info.lastEvaluation!;
      const later = await waitFor(
        async () => (await cluster.rest<JobAutoscalerInfo>("GET", `/jobs/${jobId}/autoscaler`)).body,
        (i) => (i.lastEvaluation ?? 0) >= evaluated + 3_000,
        30_000,
      );
      expect(later.history.filter((e) => e.type === "scaled")).toHaveLength(1);
      expect(later.history.filter((e) => e.type === "ineffective")).toHaveLength(1);
      expect(later.vertices.find((v) => v.id === workVertex.id)!.recommendedParallelism).toBe(to);

      // Cancelled mid-stream: what was committed is a prefix of the records, each once.
      expect((await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`)).status).toBe(202);
      await cluster.waitForStatus(jobId, "CANCELED", 60_000);
      const lines = committedLines(out);
      expect(lines.length).toBeGreaterThan(0);
      expect(lines).toEqual(expectedLines(lines.length));
    } finally {
      await cluster.stop();
    }
  }, 240_000);

  it("step down: scales down once, after the scale-down delay, and every record once", async () => {
    // 80/s for 25 s on 2 subtasks (80 % of 100/s), then 15/s, which one subtask takes at 30 %: 2750 records.
    const trace = "25:80,50:15";
    const total = 25 * 80 + 50 * 15;
    const out = join(work, "step-down");
    const cluster = await TestCluster.start({
      taskmanagers: 2,
      config: { "heartbeat.interval": "500ms", "state.savepoints.dir": join(work, "savepoints") },
    });
    try {
      const jobId = await cluster.submit(JOB, {
        parallelism: 2,
        args: [
          "--out",
          out,
          "--trace",
          trace,
          "--cost-ms",
          String(COST_MS),
          "--autoscaler",
          JSON.stringify({ ...AUTOSCALER, "job.autoscaler.scale-down.interval": "12s" }),
        ],
      });
      const job = await cluster.waitForStatus(jobId, "RUNNING");
      const scaled = await cluster.jobmanager.waitForLog((l) => l.autoscaler === "scaled", 90_000);
      expect(String(scaled.msg)).toMatch(/rescaled Work .*2 → 1/);
      const info = (await cluster.rest<JobAutoscalerInfo>("GET", `/jobs/${jobId}/autoscaler`)).body;
      const rescale = info.history.find((e) => e.type === "scaled")!;
      expect(rescale.vertices[0]!.reason).toMatch(/^scale down: utilization \d+%/);
      // Not before the drop (25 s of trace) and the delay (12 s) after it.
      expect(rescale.time - job["start-time"]).toBeGreaterThan(25_000 + 12_000 - 5_000);

      await cluster.waitForStatus(jobId, "FINISHED", 90_000);
      const after = (await cluster.rest<JobAutoscalerInfo>("GET", `/jobs/${jobId}/autoscaler`)).body;
      expect(after.history.map((e) => e.type)).toEqual(["scaled"]);
      const lines = committedLines(out);
      expect(lines.length).toBe(total);
      expect(lines).toEqual(expectedLines(total));
    } finally {
      await cluster.stop();
    }
  }, 240_000);

  it("noisy plateau: no rescale, every record once", async () => {
    // 30/s ± 20 % (a new rate every 2 s, from a seeded generator) on one subtask of 50/s: utilization 0.48–0.72, inside 0.4–1.0.
    const rnd = mulberry32(12);
    const segments = Array.from({ length: 30 }, () => Math.round(30 * (0.8 + 0.4 * rnd())));
    const trace = segments.map((r) => `2:${r}`).join(",");
    const total = segments.reduce((sum, r) => sum + 2 * r, 0);
    const out = join(work, "noisy");
    const cluster = await TestCluster.start({ taskmanagers: 1, config: { "heartbeat.interval": "500ms" } });
    try {
      const jobId = await cluster.submit(JOB, {
        parallelism: 1,
        args: ["--out", out, "--trace", trace, "--cost-ms", String(COST_MS), "--autoscaler", JSON.stringify(AUTOSCALER)],
      });
      await cluster.waitForStatus(jobId, "FINISHED", 120_000);
      const info = (await cluster.rest<JobAutoscalerInfo>("GET", `/jobs/${jobId}/autoscaler`)).body;
      // It did evaluate the job, and decided nothing.
      expect(info.lastEvaluation).not.toBeNull();
      expect(info.history).toEqual([]);
      const lines = committedLines(out);
      expect(lines.length).toBe(total);
      expect(lines).toEqual(expectedLines(total));
    } finally {
      await cluster.stop();
    }
  }, 240_000);

  it("refuses at submission a job that enables autoscaling without checkpoints, or with a bad setting; the cluster runs on", async () => {
    const cluster = await TestCluster.start({ taskmanagers: 1 });
    try {
      const submit = async (args: string[]) => {
        const bundle = Buffer.from(await bundleJob(JOB)).toString("base64");
        return cluster.rest<{ code: string; message: string }>("POST", "/jobs", { bundle, parallelism: 1, args });
      };
      const base = ["--out", join(work, "refused"), "--trace", "1:1", "--cost-ms", "1"];
      const noCheckpoints = await submit([...base, "--checkpoint-interval", "0"]);
      expect(noCheckpoints.status).toBe(400);
      expect(noCheckpoints.body.code).toBe("JOB_INVALID_GRAPH");
      expect(noCheckpoints.body.message).toMatch(/enables autoscaling but not checkpointing.*env.enableCheckpointing\(ms\)/);
      const badSetting = await submit([...base, "--autoscaler", JSON.stringify({ "job.autoscaler.target.utilization": 3 })]);
      expect(badSetting.status).toBe(400);
      expect(badSetting.body.code).toBe("CONFIG_INVALID");
      expect(badSetting.body.message).toMatch(/job.autoscaler.target.utilization to 3/);
      // Nothing was left behind, and a good job still runs.
      expect((await cluster.rest<{ jobs: unknown[] }>("GET", "/jobs")).body.jobs).toEqual([]);
      const ok = await cluster.submit(JOB, { parallelism: 1, args: base });
      await cluster.waitForStatus(ok, "FINISHED", 60_000);
    } finally {
      await cluster.stop();
    }
  }, 120_000);
});
