import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleJob } from "@riffle/cli";
import type { JobAutoscalerInfo, JobVertexBackPressure } from "@riffle/shared/rest-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INEFFECTIVE, STEP_DOWN, STEP_UP, TRACED_LOAD_JOB, type TraceCase, jobArgs, noisyPlateau, processProviderCluster } from "./autoscaler-cases.js";
import { LONG, TestCluster, committedLines, pollUntil } from "./harness/index.js";

/**
 * The autoscaler end to end on real processes: a source whose rate follows a scripted trace into a
 * vertex with a fixed cost per record (e2e/jobs/traced-load.ts), with the autoscaler's windows
 * shortened to seconds, on a cluster whose TaskManagers the JobManager's `process` provider starts
 * for the slots a parallelism needs and releases when idle (the cases: e2e/autoscaler-cases.ts).
 * Output is checked exactly through every rescale: each record once.
 *
 * `npm test` runs the step up (one rescale through a savepoint onto provided TaskManagers) and the
 * refusals; `npm run test:long` adds the step down, the vertex that cannot go faster and the noisy
 * plateau, each over a minute of trace. (The plateau cannot be made short: its trace needs 5 bursts
 * and 5 lulls of 2 s, 50 s at least. The autoscaler's decisions in all four are also replayed in
 * npm test from series recorded on a real cluster: jobmanager/src/autoscaler/recorded-series.test.ts.)
 */
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "riffle-autoscaler-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** What every correct run of a trace commits: the numbers 0..n-1, once each (sorted as strings, like committedLines). */
function expectedLines(n: number): string[] {
  return Array.from({ length: n }, (_, i) => String(i)).sort();
}

/** The JobManager's log lines saying a TaskManager its provider started has registered. */
function providedRegistrations(cluster: TestCluster): string[] {
  return cluster.jobmanager.logs.map((l) => String(l.msg)).filter((m) => /^provided TaskManager taskmanager-\w+ registered$/.test(m));
}

/** Waits until at least `n` TaskManagers the provider started have registered (`what` names them in a timeout). */
async function providedRegistered(cluster: TestCluster, n: number, what: string): Promise<void> {
  await pollUntil(
    what,
    async () => providedRegistrations(cluster).length,
    (count) => count >= n,
    10_000,
  );
}

/** Submits the traced-load job of case `c`, committing to `out`. */
function submitTraced(cluster: TestCluster, c: TraceCase, out: string): Promise<string> {
  return cluster.submit(TRACED_LOAD_JOB, { parallelism: c.parallelism, args: jobArgs(c, out, work) });
}

/** The TaskManagers registered now. */
async function taskManagerCount(cluster: TestCluster): Promise<number> {
  return (await cluster.rest<{ taskmanagers: unknown[] }>("GET", "/taskmanagers")).body.taskmanagers.length;
}

describe("autoscaler on a real cluster, TaskManagers from the process provider", () => {
  it("step up: rescales the slow vertex once, through a savepoint, onto TaskManagers started for it; back-pressure clears; every record once", async () => {
    const c = STEP_UP;
    const out = join(work, c.name);
    const cluster = await TestCluster.start(processProviderCluster(c, work));
    try {
      const jobId = await submitTraced(cluster, c, out);
      const job = await cluster.waitForStatus(jobId, "RUNNING", 60_000);
      // The resource manager started one TaskManager (2 slots) for the job's one slot.
      await providedRegistered(cluster, 1, "the TaskManager started for the job registered");
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
      // On failure, the decision's reason says what it measured (true processing rate, target, catch-up).
      expect(to, rescale.vertices[0]!.reason).toBeGreaterThanOrEqual(3);
      expect(to, rescale.vertices[0]!.reason).toBeLessThanOrEqual(5);
      expect(rescale.vertices[0]!.reason).toMatch(/^scale up: utilization \d+%/);
      expect(scaled.msg).toContain(`Work`);
      // Not before the step showed: 25 s of trace, less what the first start took.
      expect(rescale.time - job["start-time"]).toBeGreaterThan(20_000);
      // Through a savepoint: the rescale's is the only one taken.
      const savepoints = readdirSync(join(work, `${c.name}-savepoints`));
      expect(savepoints).toHaveLength(1);
      expect(existsSync(join(work, `${c.name}-savepoints`, savepoints[0]!, "_metadata"))).toBe(true);
      // The rescaled job runs (the rescale completed): the resource manager started the TaskManagers its slots needed, and no more.
      // (It logs a registration at its next tick after the registry's, which may come after the rescale completed.)
      const needed = Math.ceil(to / c.slotsPerTaskManager);
      expect(await taskManagerCount(cluster)).toBe(needed);
      await providedRegistered(cluster, needed, "the TaskManagers started for the rescale registered");
      expect(providedRegistrations(cluster)).toHaveLength(needed);

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
      expect(lines.length).toBe(c.total);
      expect(lines).toEqual(expectedLines(c.total));
    } finally {
      await cluster.stop();
    }
  }, 240_000);

  // The long tier: each over a minute of trace.
  describe.runIf(LONG)("npm run test:long", () => {
    it("a vertex that cannot go faster: one scale-up, found ineffective, none after it", async () => {
      const c = INEFFECTIVE;
      const out = join(work, c.name);
      const cluster = await TestCluster.start(processProviderCluster(c, work));
      try {
        const jobId = await submitTraced(cluster, c, out);
        await cluster.waitForStatus(jobId, "RUNNING", 60_000);
        // The resource manager started a TaskManager for the job's one slot.
        await cluster.jobmanager.waitForLog((l) => /^provided TaskManager taskmanager-\w+ registered$/.test(String(l.msg)), 30_000);

        const ineffective = await cluster.jobmanager.waitForLog((l) => l.autoscaler === "ineffective", 120_000);
        expect(String(ineffective.msg)).toMatch(/ineffective scaling: the scale-up from 1 to \d raised the true processing rate by/);
        const info = (await cluster.rest<JobAutoscalerInfo>("GET", `/jobs/${jobId}/autoscaler`)).body;
        const scaled = info.history.filter((e) => e.type === "scaled");
        expect(scaled).toHaveLength(1);
        // Sized on the first seconds of the step (2 to 4 measured): the test is that it stays the only one.
        const to = scaled[0]!.vertices[0]!.to;
        expect(to).toBeGreaterThanOrEqual(2);
        // The TaskManagers the new parallelism needs, and no more.
        expect(await taskManagerCount(cluster)).toBe(Math.ceil(to / c.slotsPerTaskManager));
        const workVertex = info.vertices.find((v) => v.name.startsWith("Work"))!;
        expect(workVertex).toMatchObject({ parallelism: to, scaleUpBlocked: true });

        // Later evaluations leave it there: still above its target utilization, and no second scale-up.
        const evaluated = info.lastEvaluation!;
        const later = await pollUntil(
          "the autoscaler evaluated again",
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

    it("step down: scales down once, after the scale-down delay; the idle TaskManager is released; every record once", async () => {
      const c = STEP_DOWN;
      const out = join(work, c.name);
      const cluster = await TestCluster.start(processProviderCluster(c, work));
      try {
        const jobId = await submitTraced(cluster, c, out);
        const job = await cluster.waitForStatus(jobId, "RUNNING", 60_000);
        // One slot per TaskManager: two TaskManagers for parallelism 2.
        await providedRegistered(cluster, 2, "both TaskManagers started for the job registered");
        const scaled = await cluster.jobmanager.waitForLog((l) => l.autoscaler === "scaled", 90_000);
        expect(String(scaled.msg)).toMatch(/rescaled Work .*2 → 1/);
        const info = (await cluster.rest<JobAutoscalerInfo>("GET", `/jobs/${jobId}/autoscaler`)).body;
        const rescale = info.history.find((e) => e.type === "scaled")!;
        expect(rescale.vertices[0]!.reason).toMatch(/^scale down: utilization \d+%/);
        // Not before the drop (25 s of trace) and the delay (12 s) after it.
        expect(rescale.time - job["start-time"]).toBeGreaterThan(25_000 + 12_000 - 5_000);

        // The TaskManager the job no longer uses is released after resourcemanager.taskmanager-timeout (5 s), while the job runs on.
        const released = await cluster.jobmanager.waitForLog(
          (l) => /^releasing TaskManager taskmanager-\w+: its slots were all free/.test(String(l.msg)),
          30_000,
        );
        expect(released.time as number).toBeGreaterThan(rescale.time);
        await pollUntil(
          "the idle TaskManager released",
          () => taskManagerCount(cluster),
          (n) => n === 1,
          30_000,
        );
        expect((await cluster.job(jobId)).state).toBe("RUNNING");

        await cluster.waitForStatus(jobId, "FINISHED", 90_000);
        const after = (await cluster.rest<JobAutoscalerInfo>("GET", `/jobs/${jobId}/autoscaler`)).body;
        expect(after.history.map((e) => e.type)).toEqual(["scaled"]);
        // No TaskManager was started after the first two.
        expect(providedRegistrations(cluster)).toHaveLength(2);
        const lines = committedLines(out);
        expect(lines.length).toBe(c.total);
        expect(lines).toEqual(expectedLines(c.total));
      } finally {
        await cluster.stop();
      }
    }, 240_000);

    it("noisy plateau: bursts above capacity and lulls below the band, the window's average inside it: no rescale, every record once", async () => {
      const c = noisyPlateau();
      // The trace does what the test claims: segments leave the band (0.4–1.0 of 50/s) both ways, every 10-s window's average stays well inside.
      expect(c.rates.filter((r) => r > 50).length).toBeGreaterThanOrEqual(5);
      expect(c.rates.filter((r) => r < 20).length).toBeGreaterThanOrEqual(5);
      const windows = c.rates.slice(0, -4).map((_, i) => c.rates.slice(i, i + 5).reduce((a, b) => a + b, 0) / 5);
      expect(Math.min(...windows)).toBeGreaterThan(0.45 * 50);
      expect(Math.max(...windows)).toBeLessThan(0.8 * 50);
      const out = join(work, c.name);
      const cluster = await TestCluster.start(processProviderCluster(c, work));
      try {
        const jobId = await submitTraced(cluster, c, out);
        await cluster.waitForStatus(jobId, "FINISHED", 120_000);
        const info = (await cluster.rest<JobAutoscalerInfo>("GET", `/jobs/${jobId}/autoscaler`)).body;
        // It did evaluate the job, and decided nothing.
        expect(info.lastEvaluation).not.toBeNull();
        expect(info.history).toEqual([]);
        expect(providedRegistrations(cluster)).toHaveLength(1);
        const lines = committedLines(out);
        expect(lines.length).toBe(c.total);
        expect(lines).toEqual(expectedLines(c.total));
      } finally {
        await cluster.stop();
      }
    }, 240_000);
  });

  it("refuses at submission a job that enables autoscaling without checkpoints, or with a bad setting; the cluster runs on", async () => {
    const cluster = await TestCluster.start({ taskmanagers: 1 });
    try {
      const submit = async (args: string[]) => {
        const bundle = Buffer.from(await bundleJob(TRACED_LOAD_JOB)).toString("base64");
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
      const ok = await cluster.submit(TRACED_LOAD_JOB, { parallelism: 1, args: base });
      await cluster.waitForStatus(ok, "FINISHED", 60_000);
    } finally {
      await cluster.stop();
    }
  }, 120_000);
});
