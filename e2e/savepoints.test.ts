import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleJob } from "@riffle/cli";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OperationResult, SubmitJobResponse } from "@riffle/shared/rest-api";
import {
  type JobDetails,
  RiffleProcess,
  TestCluster,
  type Settings,
  allRunning,
  checkpointStats,
  committedLines,
  keyedCountLines,
  waitForCheckpoints,
} from "./harness/index.js";

/**
 * Savepoints on real processes: stop with a savepoint, move it, restore it on a fresh cluster;
 * rescale 2 → 3 → 1; refuse savepoints that do not fit the job; survive a savepoint that cannot be
 * written. Output is checked exactly: the rolling counts of the exactly-once file sink.
 */

const JOB = "e2e/jobs/savepoint-count.ts";
const KEYS = 50;

type Operation = OperationResult;

interface CheckpointStats {
  counts: { completed: number; failed: number };
  latest: { completed: { id: number; external_path: string; is_savepoint: boolean } | null; restored: { id: number; external_path: string } | null };
  history: Array<{ id: number; status: string; is_savepoint: boolean }>;
}

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "riffle-savepoints-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Checkpoints and default savepoints of a cluster live outside its own directory, so they outlive it. */
function storage(name: string): Settings {
  return { "state.checkpoints.dir": join(work, name, "checkpoints"), "state.savepoints.dir": join(work, name, "savepoints") };
}

function jobArgs(out: string, count: number, rate: number, extra: string[] = []): string[] {
  return ["--out", out, "--count", String(count), "--rate", String(rate), "--keys", String(KEYS), ...extra];
}

/** Every subtask RUNNING (a savepoint needs running sources) and a checkpoint completed. */
async function waitUntilCheckpointed(cluster: TestCluster, jobId: string): Promise<CheckpointStats> {
  await cluster.waitForJob(jobId, allRunning);
  return waitForCheckpoints<CheckpointStats>(cluster, jobId, (s) => s.counts.completed >= 1);
}

/** The operation's outcome: its location, or its failure cause (Flink's `class` holds the error code). */
type Outcome = { location?: string; "failure-cause"?: { class: string; "stack-trace": string } };

async function waitForOperation(cluster: TestCluster, path: string, timeoutMs = 60_000): Promise<Outcome> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await cluster.rest<Operation>("GET", path);
    expect(res.status).toBe(200);
    if (res.body.status.id === "COMPLETED") return res.body.operation as Outcome;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${path} did not complete within ${timeoutMs} ms`);
}

/** Runs the `riffle` CLI against the cluster; resolves with its exit code and output. */
async function riffle(args: string[]): Promise<{ code: number | null; stdout: string[]; stderr: string }> {
  const cli = new RiffleProcess(`riffle ${args[0]}`, args);
  const { code } = await cli.exited;
  return { code, stdout: cli.output, stderr: cli.stderr.join("\n") };
}

async function submitRaw(cluster: TestCluster, body: Record<string, unknown>, jobFile = JOB) {
  const bundle = Buffer.from(await bundleJob(jobFile)).toString("base64");
  return cluster.rest<Partial<SubmitJobResponse> & { code?: string; message?: string }>("POST", "/jobs", { bundle, ...body });
}

describe("savepoints", () => {
  it("stop-with-savepoint, copy the savepoint elsewhere, delete the original, restore on a fresh cluster: output is exactly-once", async () => {
    // At 1 500 records/s the first run would take 40 s, so it is surely stopped before its end; the
    // restored run goes at full speed (the rate is not state, the count is).
    const COUNT = 60_000;
    const out = join(work, "moved-output");
    const first = await TestCluster.start({ taskmanagers: 2, config: storage("first") });
    let savepoint: string;
    try {
      const jobId = await first.submit(JOB, { parallelism: 2, args: jobArgs(out, COUNT, 1_500) });
      await waitUntilCheckpointed(first, jobId);

      const stop = await riffle(["stop", jobId, "--savepoint", join(work, "first-savepoints"), "-m", first.restUrl]);
      expect(stop.code, stop.stderr).toBe(0);
      savepoint = stop.stdout.at(-1)!;
      expect(savepoint.startsWith(join(work, "first-savepoints", `savepoint-${jobId.slice(0, 6)}-`))).toBe(true);
      expect(existsSync(join(savepoint, "_metadata"))).toBe(true);
      const job = await first.waitForStatus(jobId, "FINISHED");
      expect(reachedStatuses(job)).toEqual(["CREATED", "RUNNING", "STOPPING", "FINISHED"]);
      // The tasks learned of the savepoint before they were cancelled: the sinks committed what it
      // covers (part-<subtask>-<savepoint id>), and only that: the job did not run to its end.
      const savepointId = (JSON.parse(readFileSync(join(savepoint, "_metadata"), "utf8")) as { checkpointId: number }).checkpointId;
      // (A subtask that received no record since the checkpoint before has nothing to commit.)
      const committedBySavepoint = readdirSync(out).filter((f) => f === `part-0-${savepointId}` || f === `part-1-${savepointId}`);
      expect(committedBySavepoint.length).toBeGreaterThan(0);
      const before = committedLines(out).length;
      expect(before).toBeGreaterThan(0);
      expect(before).toBeLessThan(COUNT);
      const stats = await checkpointStats<CheckpointStats>(first, jobId);
      expect(stats.history.find((h) => h.is_savepoint)).toMatchObject({ status: "COMPLETED" });
    } finally {
      await first.stop();
    }

    const moved = join(work, "elsewhere", "my-savepoint");
    cpSync(savepoint, moved, { recursive: true });
    rmSync(savepoint, { recursive: true, force: true });

    const second = await TestCluster.start({ taskmanagers: 2, config: storage("second") });
    try {
      const run = await riffle(["run", "-m", second.restUrl, "-d", "-p", "2", "--from-savepoint", moved, JOB, ...jobArgs(out, COUNT, 0)]);
      expect(run.code, run.stderr).toBe(0);
      const jobId = run.stdout.at(-1)!;
      await second.waitForStatus(jobId, "FINISHED", 60_000);
      const stats = await checkpointStats<CheckpointStats>(second, jobId);
      expect(stats.latest.restored?.external_path).toBe(moved);
      expect(committedLines(out)).toEqual(keyedCountLines(COUNT, KEYS));
    } finally {
      await second.stop();
    }
  }, 120_000);

  it("rescale 2 → 3 → 1 keeps every key's state: each key's count is exact", async () => {
    // 20 s of source time: enough for two rescales and the checkpoints between them on a loaded machine.
    const COUNT = 30_000;
    const out = join(work, "rescaled-output");
    const cluster = await TestCluster.start({ taskmanagers: 3, config: storage("rescale") });
    try {
      const jobId = await cluster.submit(JOB, { parallelism: 2, args: jobArgs(out, COUNT, 1_500) });
      await waitUntilCheckpointed(cluster, jobId);

      const tooWide = await cluster.rest<{ code: string; message: string }>("PATCH", `/jobs/${jobId}/rescaling?parallelism=200`);
      expect(tooWide.status).toBe(400);
      expect(tooWide.body.code).toBe("PARALLELISM_ABOVE_MAX");

      const up = await cluster.rest<{ "request-id": string }>("POST", `/jobs/${jobId}/rescaling?parallelism=3`);
      expect(up.status).toBe(202);
      const upDone = await waitForOperation(cluster, `/jobs/${jobId}/rescaling/${up.body["request-id"]}`);
      expect(upDone["failure-cause"]).toBeUndefined();
      expect(upDone.location).toContain(join(work, "rescale", "savepoints"));
      let job = await cluster.waitForJob(jobId, allRunning);
      expect(job.vertices.map((v) => v.parallelism)).toEqual([3, 3]);
      expect(job.numRestarts).toBe(0);
      // A checkpoint of the job at parallelism 3, so the next rescale starts from state that moved once already.
      const after = (await checkpointStats<CheckpointStats>(cluster, jobId)).counts.completed;
      await waitForCheckpoints<CheckpointStats>(cluster, jobId, (s) => s.counts.completed > after);

      const down = await riffle(["rescale", jobId, "--parallelism", "1", "-m", cluster.restUrl]);
      expect(down.code, down.stderr).toBe(0);
      job = await cluster.job(jobId);
      expect(job.vertices.map((v) => v.parallelism)).toEqual([1, 1]);

      job = await cluster.waitForStatus(jobId, "FINISHED", 60_000);
      expect(reachedStatuses(job).sort()).toEqual(["CREATED", "FINISHED", "RESCALING", "RUNNING"]);

      const lines = committedLines(out);
      expect(lines.length).toBe(COUNT);
      expect(lines).toEqual(keyedCountLines(COUNT, KEYS));
      const maxPerKey = new Map<number, number>();
      for (const line of lines) {
        const [k, n] = JSON.parse(line) as [number, number];
        maxPerKey.set(k, Math.max(maxPerKey.get(k) ?? 0, n));
      }
      for (let k = 0; k < KEYS; k++) expect(maxPerKey.get(k)).toBe(COUNT / KEYS);
    } finally {
      await cluster.stop();
    }
  }, 120_000);

  it("refuses savepoints that do not fit the job, and a savepoint that cannot be written leaves the job running", async () => {
    const cluster = await TestCluster.start({ taskmanagers: 2, config: { ...storage("bad"), "state.checkpoints.num-retained": 20 } });
    try {
      const out = join(work, "bad-output");
      const jobId = await cluster.submit(JOB, { parallelism: 2, args: jobArgs(out, 1_000_000, 500, ["--checkpoint-interval", "200"]) });
      const before = await waitUntilCheckpointed(cluster, jobId);
      const earlier = before.latest.completed!.external_path;

      // An unwritable target: a directory below a regular file.
      const file = join(work, "a-regular-file");
      writeFileSync(file, "not a directory");
      const failing = await cluster.rest<{ "request-id": string }>("POST", `/jobs/${jobId}/savepoints`, { "target-directory": join(file, "savepoints") });
      expect(failing.status).toBe(202);
      const failed = await waitForOperation(cluster, `/jobs/${jobId}/savepoints/${failing.body["request-id"]}`);
      expect(failed["failure-cause"]?.class).toBe("CHECKPOINT_STORAGE_FAILED");
      expect(failed["failure-cause"]?.["stack-trace"]).toContain(join(file, "savepoints"));
      expect((await cluster.job(jobId)).state).toBe("RUNNING");
      expect(existsSync(join(earlier, "_metadata"))).toBe(true);
      // Checked now: at 5 checkpoints a second the failed savepoint soon leaves the 20-entry history.
      const atFailure = await checkpointStats<CheckpointStats>(cluster, jobId);
      expect(atFailure.history.find((h) => h.is_savepoint)?.status).toBe("FAILED");
      const completedAtFailure = (await checkpointStats<CheckpointStats>(cluster, jobId)).counts.completed;
      await waitForCheckpoints<CheckpointStats>(cluster, jobId, (s) => s.counts.completed >= completedAtFailure + 2);

      // A good savepoint, through the CLI; the job keeps running.
      const taken = await riffle(["savepoint", jobId, join(work, "good-savepoints"), "-m", cluster.restUrl]);
      expect(taken.code, taken.stderr).toBe(0);
      const savepoint = taken.stdout.at(-1)!;
      expect(JSON.parse(readFileSync(join(savepoint, "_metadata"), "utf8"))).toMatchObject({ jobId, isSavepoint: true, maxParallelism: 128 });
      expect((await cluster.job(jobId)).state).toBe("RUNNING");
      const stats = await checkpointStats<CheckpointStats>(cluster, jobId);
      expect(stats.history.find((h) => h.is_savepoint)?.status).toBe("COMPLETED");

      const variantOut = join(work, "variant-output");
      // One operator's uid changed: its state has no operator.
      const changedUid = await submitRaw(cluster, {
        parallelism: 2,
        savepointPath: savepoint,
        args: jobArgs(variantOut, 1_000_000, 500, ["--count-uid", "renamed"]),
      });
      expect(changedUid.status).toBe(400);
      expect(changedUid.body.code).toBe("UNMATCHED_STATE");
      expect(changedUid.body.message).toContain("count-per-key");
      // A different job altogether.
      const otherJob = await submitRaw(cluster, { savepointPath: savepoint, args: ["--rate", "100"] }, "e2e/jobs/unbounded.ts");
      expect(otherJob.body.code).toBe("UNMATCHED_STATE");
      // A changed max parallelism.
      const changedMax = await submitRaw(cluster, {
        parallelism: 2,
        savepointPath: savepoint,
        args: jobArgs(variantOut, 1_000_000, 500, ["--max-parallelism", "64"]),
      });
      expect(changedMax.status).toBe(400);
      expect(changedMax.body.code).toBe("MAX_PARALLELISM_CHANGED");
      expect(changedMax.body.message).toMatch(/max parallelism 128; the job now has 64/);
      // No _metadata, and a corrupt one.
      const empty = join(work, "not-a-savepoint");
      mkdirSync(empty, { recursive: true });
      const missing = await submitRaw(cluster, { savepointPath: empty, args: jobArgs(variantOut, 10, 10) });
      expect([missing.status, missing.body.code]).toEqual([400, "SAVEPOINT_INVALID"]);
      expect(missing.body.message).toContain(`${empty} is not a savepoint`);
      const corrupt = join(work, "corrupt-savepoint");
      cpSync(savepoint, corrupt, { recursive: true });
      writeFileSync(join(corrupt, "_metadata"), '{"version": 1, "operators": [');
      const broken = await submitRaw(cluster, { savepointPath: corrupt, args: jobArgs(variantOut, 10, 10) });
      expect([broken.status, broken.body.code]).toEqual([400, "SAVEPOINT_INVALID"]);
      expect(broken.body.message).toMatch(/_metadata is corrupt: it is not JSON/);

      // The changed uid is accepted when its state may be dropped; the other operators restore theirs.
      // The original job goes first: the variant's sink takes over its output directory from the savepoint.
      expect((await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`)).status).toBe(202);
      await cluster.waitForStatus(jobId, "CANCELED");
      const allowed = await submitRaw(cluster, {
        parallelism: 2,
        savepointPath: savepoint,
        allowNonRestoredState: true,
        args: jobArgs(out, 1_000_000, 500, ["--count-uid", "renamed"]),
      });
      expect(allowed.status, JSON.stringify(allowed.body)).toBe(202);
      const variant = allowed.body.jobid!;
      await waitUntilCheckpointed(cluster, variant);
      expect((await checkpointStats<CheckpointStats>(cluster, variant)).latest.restored).toMatchObject({ external_path: savepoint });
      expect((await cluster.job(variant)).numRestarts).toBe(0);
      expect((await cluster.rest("PATCH", `/jobs/${variant}?mode=cancel`)).status).toBe(202);
      await cluster.waitForStatus(variant, "CANCELED");

      // A job without checkpoints still takes savepoints (it has a coordinator, just no interval).
      const plain = await cluster.submit("e2e/jobs/unbounded.ts", { parallelism: 2, args: ["--rate", "200"] });
      // Every subtask RUNNING: a vertex reads RUNNING as soon as one of its subtasks does.
      await cluster.waitForJob(plain, allRunning);
      const plainTrigger = await cluster.rest<{ "request-id": string }>("POST", `/jobs/${plain}/savepoints`, {});
      const plainDone = await waitForOperation(cluster, `/jobs/${plain}/savepoints/${plainTrigger.body["request-id"]}`);
      expect(plainDone["failure-cause"]).toBeUndefined();
      expect(plainDone.location?.startsWith(join(work, "bad", "savepoints"))).toBe(true);
      expect(existsSync(join(plainDone.location!, "_metadata"))).toBe(true);
      expect((await cluster.rest("PATCH", `/jobs/${plain}?mode=cancel`)).status).toBe(202);
      await cluster.waitForStatus(plain, "CANCELED");
    } finally {
      await cluster.stop();
    }
  }, 120_000);
});

/** The statuses a job went through (Flink's `timestamps` hold 0 for the others), in the order of the listing. */
function reachedStatuses(job: JobDetails): string[] {
  return Object.entries(job.timestamps)
    .filter(([, at]) => at > 0)
    .map(([status]) => status);
}
