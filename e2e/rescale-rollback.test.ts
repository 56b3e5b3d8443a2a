import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JobExceptions, OperationResult } from "@riffle/shared/rest-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type JobDetails, ResourceCluster, RiffleProcess, TestCluster, allRunning, committedLines, keyedCountLines } from "./harness/index.js";

/**
 * A rescale whose slots never come, on real processes: a job at parallelism 2 on one TaskManager with
 * two slots, rescaled over REST to 4, on a standalone cluster (nobody starts TaskManagers) and with
 * the process provider at its `resourcemanager.taskmanagers.max` of 1. The job stops with a
 * savepoint, waits `jobmanager.slot-request.timeout` for 4 slots, and goes back to its previous graph
 * from that savepoint (job-master.ts, rollBackRescale): RUNNING again at parallelism 2, without a
 * restart, the rescale operation failed with the reason, and the exactly-once output whole.
 */
const JOB = "e2e/jobs/savepoint-count.ts";
const KEYS = 20;

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "riffle-rescale-rollback-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** What the test needs of a cluster: REST and the JobManager's log. */
interface Target {
  rest<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  jm: RiffleProcess;
}

// 10 s of source time at 1 000 records/s: the job is still running when the rescale gives up (after
// the savepoint and the 3-s slot timeout), and then runs to its end.
const COUNT = 10_000;
const jobArgs = (out: string) => ["--out", out, "--count", String(COUNT), "--rate", "1000", "--keys", String(KEYS)];

/** Polls GET `path` until `done` holds, with a deadline. */
async function until<T>(target: Target, path: string, done: (body: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = (await target.rest<T>("GET", path)).body;
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`GET ${path} did not get there within ${timeoutMs} ms; last: ${JSON.stringify(last)}\n${target.jm.tail(30)}`);
}

/** Rescales the job to 4 and waits for the outcome: the failure's code and message (none: it succeeded). */
type Rescale = (jobId: string) => Promise<{ code: string; message: string } | undefined>;

/** Over REST: POST /jobs/:id/rescaling, then its status until COMPLETED. */
const restRescale =
  (target: Target): Rescale =>
  async (jobId) => {
    const rescale = await target.rest<{ "request-id": string }>("POST", `/jobs/${jobId}/rescaling?parallelism=4`);
    expect(rescale.status).toBe(202);
    const result = await until<OperationResult>(target, `/jobs/${jobId}/rescaling/${rescale.body["request-id"]}`, (r) => r.status.id === "COMPLETED");
    const cause = (result.operation as { "failure-cause"?: { class: string; "stack-trace": string } })["failure-cause"];
    return cause && { code: cause.class, message: cause["stack-trace"] };
  };

/** With `riffle rescale` (PATCH /jobs/:id/rescaling): a failed rescale is exit code 1 and `error[CODE]: message` last on stderr. */
const cliRescale =
  (restUrl: string): Rescale =>
  async (jobId) => {
    const cli = new RiffleProcess("riffle rescale", ["rescale", jobId, "--parallelism", "4", "-m", restUrl]);
    const { code } = await cli.exited;
    if (code === 0) return undefined;
    expect(code, cli.stderr.join("\n")).toBe(1);
    const [, errorCode, message] = /^error\[([A-Z_]+)\]: (.*)$/.exec(cli.stderr.at(-1) ?? "") ?? [];
    expect(errorCode, cli.stderr.join("\n")).toBeDefined();
    return { code: errorCode!, message: message! };
  };

/** The running job (parallelism 2, checkpointed) is rescaled to 4, which the cluster cannot give, and runs to its end; returns why the rescale failed. */
async function rescaleBeyondTheSlots(target: Target, rescale: Rescale, jobId: string, out: string, savepoints: string): Promise<string> {
  await until<JobDetails>(target, `/jobs/${jobId}`, allRunning, 60_000);
  await until<{ counts: { completed: number } }>(target, `/jobs/${jobId}/checkpoints`, (s) => s.counts.completed >= 1);

  const failure = await rescale(jobId);
  expect(failure?.code).toBe("NO_RESOURCE_AVAILABLE");
  expect(failure?.message).toMatch(
    new RegExp(`job needs 4 slots but only 2 are free .*; job .* goes back to its previous parallelism from savepoint ${savepoints}/`),
  );

  // Running again at 2, from the savepoint, without counting as a restart.
  const job = await until<JobDetails>(target, `/jobs/${jobId}`, allRunning);
  expect(job.vertices.map((v) => v.parallelism)).toEqual([2, 2]);
  const exceptions = (await target.rest<JobExceptions>("GET", `/jobs/${jobId}/exceptions`)).body;
  expect(job.numRestarts, JSON.stringify(exceptions.exceptionHistory.entries)).toBe(0);
  expect(exceptions.exceptionHistory.entries.map((e) => e.exceptionName)).toContain("NO_RESOURCE_AVAILABLE");
  const checkpoints = (await target.rest<{ latest: { restored: { external_path: string } | null } }>("GET", `/jobs/${jobId}/checkpoints`)).body;
  expect(checkpoints.latest.restored?.external_path.startsWith(savepoints)).toBe(true);
  const log = await target.jm.waitForLog((l) => String(l.msg).includes("goes back to its previous parallelism"));
  expect((log.vertices as string[]).map((v) => v.replace(/.* \((\d+)\)$/, "$1"))).toEqual(["2", "2"]);
  // Part of the output was committed before the rescale (by its savepoint and the checkpoints
  // before), the rest is yet to come: the job goes on from the savepoint, mid-stream.
  const atRollback = committedLines(out).length;
  expect(atRollback).toBeGreaterThan(0);
  expect(atRollback).toBeLessThan(COUNT);

  const finished = await until<JobDetails>(target, `/jobs/${jobId}`, (j) => j.state === "FINISHED" || j.state === "FAILED", 60_000);
  expect(finished.state).toBe("FINISHED");
  expect(
    Object.entries(finished.timestamps)
      .filter(([, at]) => at > 0)
      .map(([status]) => status),
  ).toContain("RESCALING");
  expect(committedLines(out)).toEqual(keyedCountLines(COUNT, KEYS));
  return failure!.message;
}

describe("rescale rollback", () => {
  it("standalone: `riffle rescale` to more slots than the cluster has goes back to the previous parallelism from its savepoint; output stays exactly-once", async () => {
    const dir = join(work, "standalone");
    const cluster = await TestCluster.start({
      taskmanagers: 1,
      config: { "taskmanager.slots": 2, "state.checkpoints.dir": join(dir, "checkpoints"), "state.savepoints.dir": join(dir, "savepoints") },
      jobmanager: { "jobmanager.slot-request.timeout": "3s" },
    });
    try {
      const jobId = await cluster.submit(JOB, { parallelism: 2, args: jobArgs(join(dir, "out")) });
      const target = { rest: <T>(m: string, p: string, b?: unknown) => cluster.rest<T>(m, p, b), jm: cluster.jobmanager };
      await rescaleBeyondTheSlots(target, cliRescale(cluster.restUrl), jobId, join(dir, "out"), join(dir, "savepoints"));
    } finally {
      await cluster.stop();
    }
  }, 90_000);

  it("process provider at its max: a REST rescale starts no TaskManager beyond it and goes back the same way", async () => {
    const dir = join(work, "process");
    const cluster = new ResourceCluster(
      {
        "rest.port": 0,
        "jobmanager.rpc.port": 0,
        "jobmanager.storage.dir": join(dir, "jobmanager"),
        "state.checkpoints.dir": join(dir, "checkpoints"),
        "state.savepoints.dir": join(dir, "savepoints"),
        "taskmanager.slots": 2,
        "jobmanager.slot-request.timeout": "3s",
        "resourcemanager.provider": "process",
        "resourcemanager.taskmanagers.min": 1,
        "resourcemanager.taskmanagers.max": 1,
      },
      "process",
    );
    await cluster.start();
    try {
      // Its one TaskManager first (min): a start under load can take longer than the short slot
      // timeout, which would count as a restart before the rescale.
      await cluster.until(
        "the TaskManager registered",
        () => cluster.taskmanagers(),
        (t) => t.length === 1,
        60_000,
      );
      const submitted = await cluster.submit(JOB, 2, jobArgs(join(dir, "out")));
      expect(submitted.status).toBe(202);
      const cause = await rescaleBeyondTheSlots(cluster, restRescale(cluster), submitted.body.jobid, join(dir, "out"), join(dir, "savepoints"));
      expect(cause).toMatch(
        /the process provider already runs resourcemanager.taskmanagers.max \(1\) TaskManagers of 2 slots, so it starts no more \(raise the max\)/,
      );
      expect(await cluster.metric("riffle_resourcemanager_taskmanagers_started")).toBe(1);
      expect(await cluster.metric("riffle_resourcemanager_start_failures")).toBe(0);
    } finally {
      await cluster.jm.stop(30_000);
    }
  }, 90_000);
});
