import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, isAlive, isRiffleProcess } from "@riffle/shared";
import type { JobDetails } from "@riffle/shared/rest-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, REPO_ROOT, ResourceCluster, RiffleProcess, setFlags } from "./harness/index.js";

/**
 * The resource manager with the `process` provider on real processes: the JobManager starts
 * TaskManagers as its child processes when slots are missing, keeps `min` of them, replaces one that
 * is killed, releases idle ones, adopts the ones it left after it crashed and comes back, and stops
 * them when it shuts down in order.
 */
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "riffle-resources-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

class Cluster extends ResourceCluster {
  constructor(
    settings: Record<string, string | number>,
    private readonly dir: string,
  ) {
    super(settings, "process");
  }

  /** The provider's records of the TaskManagers it runs. */
  recordedTaskManagers(): string[] {
    return readdirSync(join(this.dir, "taskmanagers")).filter((n) => n.endsWith(".json"));
  }
}

describe("resource manager with the process provider", () => {
  it("starts TaskManagers for missing slots, replaces a killed one, releases idle ones, adopts them after a JobManager crash, stops them on shutdown", async () => {
    const storage = join(work, "jobmanager");
    const settings = {
      "rest.port": 0,
      "jobmanager.rpc.port": await freePort(),
      "jobmanager.storage.dir": storage,
      "state.checkpoints.dir": join(work, "checkpoints"),
      "state.savepoints.dir": join(work, "savepoints"),
      "heartbeat.interval": "500ms",
      "heartbeat.timeout": "5s",
      "taskmanager.slots": 2,
      "resourcemanager.provider": "process",
      "resourcemanager.taskmanagers.min": 1,
      "resourcemanager.taskmanagers.max": 3,
      "resourcemanager.taskmanager-timeout": "2s",
    };
    const cluster = new Cluster(settings, storage);
    await cluster.start();
    const pids: number[] = [];
    try {
      // min: one TaskManager without any job.
      let tms = await cluster.until(
        "one TaskManager registered",
        () => cluster.taskmanagers(),
        (t) => t.length === 1,
      );
      pids.push(tms[0]!.pid);

      // A job of parallelism 4 needs 4 slots: the resource manager starts a second TaskManager.
      const args = ["--out", join(work, "out"), "--count", "10000000", "--rate", "200", "--keys", "10"];
      const submitted = await cluster.submit("e2e/jobs/savepoint-count.ts", 4, args);
      expect(submitted.status).toBe(202);
      const jobId = submitted.body.jobid;
      const running = (j: JobDetails) => j.state === "RUNNING" && j.vertices.every((v) => v.tasks.RUNNING === v.parallelism);
      await cluster.until("the job running on 4 slots", async () => (await cluster.rest<JobDetails>("GET", `/jobs/${jobId}`)).body, running);
      tms = await cluster.taskmanagers();
      expect(tms).toHaveLength(2);
      expect(tms.every((t) => t.id.startsWith("taskmanager-"))).toBe(true);
      pids.push(...tms.map((t) => t.pid).filter((p) => !pids.includes(p)));

      // Killed: the job restarts and the resource manager starts a replacement for the missing slots.
      const victim = tms[1]!;
      process.kill(victim.pid, "SIGKILL");
      await cluster.until(
        "a replacement registered and the job running again",
        async () => ({ tms: await cluster.taskmanagers(), job: (await cluster.rest<JobDetails>("GET", `/jobs/${jobId}`)).body }),
        (s) => s.tms.length === 2 && !s.tms.some((t) => t.id === victim.id) && running(s.job),
        60_000,
      );
      expect(await cluster.metric("riffle_resourcemanager_taskmanagers_exited")).toBe(1);
      expect(await cluster.metric("riffle_resourcemanager_taskmanagers_started")).toBe(3);
      pids.push(...(await cluster.taskmanagers()).map((t) => t.pid).filter((p) => !pids.includes(p)));

      // Cancelled: the slots are free, and after the idle timeout one TaskManager is released, down to min.
      expect((await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`)).status).toBe(202);
      tms = await cluster.until(
        "idle TaskManagers released down to min",
        () => cluster.taskmanagers(),
        (t) => t.length === 1,
        30_000,
      );
      expect(await cluster.metric("riffle_resourcemanager_taskmanagers_released")).toBe(1);
      const survivor = tms[0]!;
      // The released one's record goes once its process exited (it leaves the registry a moment before).
      await cluster.until(
        "only the survivor on record",
        async () => cluster.recordedTaskManagers(),
        (r) => r.length === 1 && r[0] === `${survivor.id}.json`,
      );

      // The JobManager crashes; the next one on the same storage adopts the TaskManager it left, which registers again.
      cluster.jm.kill("SIGKILL");
      await cluster.jm.exited;
      expect(isAlive(survivor.pid)).toBe(true);
      await cluster.start();
      await cluster.jm.waitForLog((l) => String(l.msg).includes("adopted 1 TaskManager(s)"), 10_000);
      tms = await cluster.until(
        "the adopted TaskManager registered again",
        () => cluster.taskmanagers(),
        (t) => t.length === 1,
        60_000,
      );
      expect(tms[0]).toMatchObject({ id: survivor.id, pid: survivor.pid });
      // min is met by the adopted one: nothing new was started.
      expect(await cluster.metric("riffle_resourcemanager_taskmanagers_started")).toBe(0);

      // An orderly shutdown stops the TaskManagers it runs.
      await cluster.jm.stop(30_000);
      // Not our child: gone once it is no riffle process any more (a zombie until someone reaps it).
      expect(isRiffleProcess(survivor.pid, CLI)).toBe(false);
      expect(cluster.recordedTaskManagers()).toEqual([]);
    } finally {
      await cluster.jm.stop();
      for (const pid of pids) if (isAlive(pid)) process.kill(pid, "SIGKILL");
    }
  }, 240_000);

  it("stops a TaskManager that never registers, and backs off from TaskManagers that exit at once", async () => {
    const base = (name: string, entry: string) => ({
      "rest.port": 0,
      "jobmanager.rpc.port": 0,
      "jobmanager.storage.dir": join(work, name),
      "resourcemanager.provider": "process",
      "resourcemanager.taskmanagers.min": 1,
      "resourcemanager.process.entry": join(REPO_ROOT, "e2e/fixtures", entry),
      "resourcemanager.taskmanager-registration.timeout": "1s",
      "resourcemanager.start-worker.retry-interval": "500ms",
      "jobmanager.slot-request.timeout": "3s",
    });
    const hanging = new Cluster(base("hanging", "hanging-taskmanager.mjs"), join(work, "hanging"));
    await hanging.start();
    try {
      const line = await hanging.jm.waitForLog((l) => /did not register within 1000 ms of its start; stopping it/.test(String(l.msg)), 20_000);
      expect(line.level).toBe(40);
      await hanging.until(
        "a registration timeout counted",
        () => hanging.metric("riffle_resourcemanager_registration_timeouts"),
        (n) => (n ?? 0) >= 1,
      );
      // The stopped one is gone from the provider's records once it exited (others start meanwhile: min is 1).
      const stopped = String(line.taskmanagerId);
      expect(stopped).toMatch(/^taskmanager-/);
      await hanging.until(
        `${stopped}'s process stopped`,
        async () => hanging.recordedTaskManagers(),
        (r) => !r.includes(`${stopped}.json`),
      );
    } finally {
      await hanging.jm.stop();
    }

    const crashing = new Cluster(base("crashing", "crashing-taskmanager.mjs"), join(work, "crashing"));
    await crashing.start();
    try {
      // Starts back off 500 ms, 1 s, 2 s, 4 s...: within 6 s at most 4 or 5 starts, not one per tick (12).
      await crashing.jm.waitForLog((l) => /exited with code 1 before it registered/.test(String(l.msg)), 20_000);
      // Waiting out a span of time is the point here: counting what happens in it.
      await new Promise((r) => setTimeout(r, 6_000));
      const failures = await crashing.metric("riffle_resourcemanager_start_failures");
      expect(failures).toBeGreaterThanOrEqual(2);
      expect(failures).toBeLessThanOrEqual(5);
      // The JobManager keeps serving meanwhile, and a job that waits for slots fails saying why none come.
      expect((await crashing.rest("GET", "/overview")).status).toBe(200);
      const submitted = await crashing.submit("e2e/jobs/count-to.ts", 1);
      expect(submitted.status).toBe(202);
      const failed = await crashing.until(
        "the job failed for want of slots",
        async () => (await crashing.rest<JobDetails>("GET", `/jobs/${submitted.body.jobid}`)).body,
        (j) => j.state === "FAILED",
        30_000,
      );
      expect(failed.failure?.code).toBe("NO_RESOURCE_AVAILABLE");
      expect(failed.failure?.message).toMatch(
        /the process provider cannot start TaskManagers \(TaskManager taskmanager-\w+ exited with code 1 before it registered/,
      );
    } finally {
      await crashing.jm.stop();
    }
  }, 120_000);

  it("refuses min above max at start with a clear error", async () => {
    const jm = new RiffleProcess("jobmanager", [
      "jobmanager",
      ...setFlags({
        "rest.port": 0,
        "jobmanager.rpc.port": 0,
        "jobmanager.storage.dir": join(work, "bad"),
        "resourcemanager.provider": "process",
        "resourcemanager.taskmanagers.min": 3,
        "resourcemanager.taskmanagers.max": 2,
      }),
    ]);
    const exit = await jm.waitForExit(20_000);
    expect(exit.code).toBe(1);
    expect(jm.stderr.join("\n")).toMatch(/resourcemanager.taskmanagers.min \(3\) is above resourcemanager.taskmanagers.max \(2\)/);
  }, 30_000);
});

describe("resource manager settings", () => {
  it("refuses an unknown provider at start with CONFIG_INVALID naming the providers there are", async () => {
    const jm = new RiffleProcess("jobmanager", [
      "jobmanager",
      ...setFlags({
        "rest.port": 0,
        "jobmanager.rpc.port": 0,
        "jobmanager.storage.dir": join(work, "unknown-provider"),
        "resourcemanager.provider": "nomad",
      }),
    ]);
    const exit = await jm.waitForExit(20_000);
    expect(exit.code).toBe(1);
    const stderr = jm.stderr.join("\n");
    expect(stderr).toMatch(/CONFIG_INVALID/);
    expect(stderr).toMatch(/invalid value "nomad" for resourcemanager.provider/);
    for (const provider of ["standalone", "process", "docker", "kubernetes"]) expect(stderr).toContain(`"${provider}"`);
  }, 30_000);
});
