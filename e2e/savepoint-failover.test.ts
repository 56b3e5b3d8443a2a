import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RiffleProcess, TestCluster, checkpointStats, committedLines, keyedCountLines, waitForCheckpoints, allRunning } from "./harness/index.js";

/**
 * A completed savepoint stays restorable whatever its job does next (decision record 0007): a
 * TaskManager killed right after it (the job fails over to an older checkpoint), the job cancelled
 * right after it, or another savepoint right after it. Each time a new job started from the savepoint
 * commits exactly the output of a failure-free run.
 *
 * The savepoints are intermediate (the job goes on), so their staged output is committed by no one
 * until a job restores them. The next checkpoint starts at least 3 s after a savepoint ends
 * (execution.checkpointing.min-pause), so nothing completes between the savepoint and what follows
 * it, and the failover goes back to a checkpoint older than the savepoint.
 */

const JOB = "e2e/jobs/savepoint-count.ts";
const KEYS = 50;
const COUNT = 30_000;

interface CheckpointStats {
  counts: { completed: number };
  latest: { restored: { id: number; external_path: string } | null };
}

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "riffle-savepoint-failover-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function jobArgs(out: string, rate: number, checkpointIntervalMs: number): string[] {
  return ["--out", out, "--count", String(COUNT), "--rate", String(rate), "--keys", String(KEYS), "--checkpoint-interval", String(checkpointIntervalMs)];
}

async function startCluster(name: string): Promise<TestCluster> {
  return TestCluster.start({
    taskmanagers: 2,
    config: {
      "heartbeat.interval": "500ms",
      "heartbeat.timeout": "3s",
      "execution.checkpointing.min-pause": "3s",
      "state.checkpoints.dir": join(work, name, "checkpoints"),
      "state.savepoints.dir": join(work, name, "savepoints"),
    },
  });
}

/** The first job: running on every subtask, with a completed checkpoint for a failover to go back to. */
async function startFirstJob(cluster: TestCluster, out: string): Promise<string> {
  const jobId = await cluster.submit(JOB, { parallelism: 2, args: jobArgs(out, 1_000, 2_000) });
  await cluster.waitForJob(jobId, allRunning);
  await waitForCheckpoints<CheckpointStats>(cluster, jobId, (s) => s.counts.completed >= 1);
  return jobId;
}

/**
 * Takes a savepoint and resolves the moment the JobManager logs its completion (sooner than any
 * client learns of it), with its id, directory and the time of that log line (the JobManager's
 * clock, which is this machine's).
 */
async function savepoint(cluster: TestCluster, jobId: string): Promise<{ id: number; path: string; completedAt: number }> {
  const before = cluster.jobmanager.logs.length;
  const res = await cluster.rest("POST", `/jobs/${jobId}/savepoints`, {});
  expect(res.status).toBe(202);
  const completed = await cluster.jobmanager.waitForLog(
    (l) => cluster.jobmanager.logs.indexOf(l) >= before && /^(completed savepoint|savepoint failed)/.test(l.msg),
    30_000,
  );
  expect(completed.msg).toMatch(/^completed savepoint/);
  return { id: completed.checkpointId as number, path: completed.path as string, completedAt: completed.time as number };
}

/**
 * Kills a TaskManager of the job with SIGKILL at once, within 200 ms of `savepointCompletedAt` (the
 * time of the JobManager's log line), as the test asserts, and starts a replacement; the job
 * restarts from a checkpoint.
 */
async function killTaskManager(cluster: TestCluster, savepointCompletedAt: number): Promise<void> {
  const victim = cluster.taskmanagers.find((t) => !t.hasExited)!;
  victim.kill("SIGKILL");
  const killedAt = Date.now();
  console.log(`TaskManager killed ${killedAt - savepointCompletedAt} ms after the savepoint completed`);
  expect(killedAt - savepointCompletedAt).toBeLessThan(200);
  await victim.exited;
  await cluster.addTaskManager();
}

async function cancel(cluster: TestCluster, jobId: string): Promise<void> {
  expect((await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`)).status).toBe(202);
  await cluster.waitForStatus(jobId, "CANCELED");
}

/**
 * The job the savepoint was taken from went on after it, and may have committed output the savepoint
 * does not cover (`part-<subtask>-<checkpoint id>` above the savepoint's id). Restoring the savepoint
 * produces that output again (decision record 0003), so, as a user rewinding their output to the
 * savepoint would, that output goes first.
 */
function rewind(out: string, savepointId: number): void {
  for (const name of readdirSync(out)) {
    const m = /^part-\d+-(\d+)$/.exec(name);
    if (m && Number(m[1]) > savepointId) rmSync(join(out, name));
  }
}

/** A new job from the savepoint, through the CLI, at full speed: its output joined to what came before must be exact. */
async function restoreAndCheck(cluster: TestCluster, savepointPath: string, out: string): Promise<void> {
  const cli = new RiffleProcess("riffle run", ["run", "-m", cluster.restUrl, "-d", "-p", "2", "--from-savepoint", savepointPath, JOB, ...jobArgs(out, 0, 500)]);
  const { code } = await cli.exited;
  expect(code, cli.stderr.join("\n")).toBe(0);
  const jobId = cli.output.at(-1)!;
  const job = await cluster.waitForStatus(jobId, "FINISHED", 60_000);
  expect(job.numRestarts).toBe(0);
  expect((await checkpointStats<CheckpointStats>(cluster, jobId)).latest.restored?.external_path).toBe(savepointPath);
  const lines = committedLines(out);
  expect(lines.length).toBe(COUNT);
  expect(lines).toEqual(keyedCountLines(COUNT, KEYS));
}

/**
 * Runs `body` on a fresh cluster with the first job running and checkpointed, writing into `out`;
 * stops the cluster afterwards.
 */
async function withFirstJob(name: string, body: (cluster: TestCluster, jobId: string, out: string) => Promise<void>): Promise<void> {
  const cluster = await startCluster(name);
  try {
    const out = join(work, name, "out");
    await body(cluster, await startFirstJob(cluster, out), out);
  } finally {
    await cluster.stop();
  }
}

/** The job is RUNNING again after the kill, restored from a checkpoint older than `savepointId`: the case under test. */
async function failedOverBehind(cluster: TestCluster, jobId: string, savepointId: number): Promise<void> {
  await cluster.waitForJob(jobId, (j) => j.state === "RUNNING" && j.numRestarts >= 1, 60_000);
  expect((await checkpointStats<CheckpointStats>(cluster, jobId)).latest.restored!.id).toBeLessThan(savepointId);
}

describe("a completed savepoint stays restorable", () => {
  it(
    "after a TaskManager is killed within 200 ms of it and the job fails over to an older checkpoint",
    () =>
      withFirstJob("killed", async (cluster, jobId, out) => {
        const taken = await savepoint(cluster, jobId);
        await killTaskManager(cluster, taken.completedAt);
        await failedOverBehind(cluster, jobId, taken.id);
        await cancel(cluster, jobId);
        rewind(out, taken.id);
        await restoreAndCheck(cluster, taken.path, out);
      }),
    120_000,
  );

  it(
    "after its job is cancelled right after it",
    () =>
      withFirstJob("cancelled", async (cluster, jobId, out) => {
        const taken = await savepoint(cluster, jobId);
        await cancel(cluster, jobId);
        rewind(out, taken.id);
        await restoreAndCheck(cluster, taken.path, out);
      }),
    120_000,
  );

  it(
    "after two savepoints in a row and a TaskManager kill: each of them restores, the second after the first was",
    () =>
      withFirstJob("two", async (cluster, jobId, out) => {
        const first = await savepoint(cluster, jobId);
        const second = await savepoint(cluster, jobId);
        await killTaskManager(cluster, second.completedAt);
        expect(second.id).toBeGreaterThan(first.id);
        await failedOverBehind(cluster, jobId, first.id);
        await cancel(cluster, jobId);

        rewind(out, first.id);
        await restoreAndCheck(cluster, first.path, out);
        // Then the second, into the same directory: what the job from the first savepoint committed
        // after it goes, like the first job's output after the first savepoint did. The second
        // savepoint's staged output must still be there: the job from the first one left it alone.
        rewind(out, first.id);
        await restoreAndCheck(cluster, second.path, out);
      }),
    150_000,
  );
});
