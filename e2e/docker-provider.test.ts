import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "@riffle/shared";
import type { JobDetails, TaskManagersInfo } from "@riffle/shared/rest-api";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EtcdCluster, HaTestCluster, REPO_ROOT, ResourceCluster, RiffleProcess, committedLines, metricValue, waitForCheckpoints } from "./harness/index.js";

/**
 * The resource manager with the `docker` provider against a real Docker daemon (DOCKER_HOST, else
 * /var/run/docker.sock; `.ci/run` starts one): Riffle's image is built here without a registry
 * (`build-image.sh --local-base`), the JobManager starts TaskManager containers that register and run
 * a job, a killed container is replaced, idle ones are released, a JobManager that crashed and came
 * back adopts the running containers and removes the ended ones, and an orderly shutdown stops them.
 *
 * Skipped only when no daemon answers and RIFFLE_REQUIRE_DOCKER is not set (CI sets it).
 */
const IMAGE = "riffle:e2e";
const docker = new Docker(); // DOCKER_HOST, else /var/run/docker.sock: what the provider uses by default
const daemon = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
const unreachable = await docker.ping().then(
  () => undefined,
  (err: Error) => `no Docker daemon answers at ${daemon} (${err.message})`,
);
const skip = unreachable !== undefined && !process.env.RIFFLE_REQUIRE_DOCKER;
if (skip) console.warn(`skipping the docker provider tests: ${unreachable}; start dockerd, or set RIFFLE_REQUIRE_DOCKER=1 to make this a failure`);

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "riffle-docker-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The shared provider-test cluster, waiting longer by default: containers start slower than processes. */
class Cluster extends ResourceCluster {
  constructor(settings: Record<string, string | number>) {
    super(settings, "docker");
  }

  override until<T>(what: string, probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
    return super.until(what, probe, done, timeoutMs);
  }
}

/** The containers of one cluster, as Docker lists them (ended ones too). */
async function containersOf(clusterId: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`riffle.cluster-id=${clusterId}`] } });
}

/** Every cluster id a test used: their containers are removed after the tests, even after a test timed out. */
const clusterIds = new Set<string>();

async function removeContainersOf(clusterId: string): Promise<void> {
  for (const c of await containersOf(clusterId)) await docker.getContainer(c.Id).remove({ force: true });
}

const running = (j: JobDetails) => j.state === "RUNNING" && j.vertices.every((v) => v.tasks.RUNNING === v.parallelism);

describe.skipIf(skip)("resource manager with the docker provider", () => {
  beforeAll(async () => {
    if (unreachable) throw new Error(`RIFFLE_REQUIRE_DOCKER is set but ${unreachable}: start dockerd (.ci/run does)`);
    // The image of the code under test, from this machine's node: no registry.
    await promisify(execFile)(join(REPO_ROOT, "deploy/docker/build-image.sh"), ["--local-base", "--tag", IMAGE], {
      cwd: REPO_ROOT,
      maxBuffer: 16 * 1024 * 1024,
    });
  }, 600_000);
  afterAll(async () => {
    for (const id of clusterIds) await removeContainersOf(id);
  });

  it("starts TaskManager containers for missing slots, replaces a killed one, releases idle ones, adopts and removes containers after a JobManager crash, stops them on shutdown", async () => {
    const clusterId = `e2e-docker-${process.pid}`;
    clusterIds.add(clusterId);
    const settings = {
      "rest.port": 0,
      "jobmanager.rpc.port": await freePort(),
      "jobmanager.storage.dir": join(work, "jobmanager"),
      "state.checkpoints.dir": join(work, "checkpoints"),
      "state.savepoints.dir": join(work, "savepoints"),
      "heartbeat.interval": "500ms",
      "heartbeat.timeout": "5s",
      "taskmanager.slots": 2,
      "high-availability.cluster-id": clusterId,
      "resourcemanager.provider": "docker",
      "resourcemanager.docker.image": IMAGE,
      "resourcemanager.docker.memory": "1gb",
      "resourcemanager.docker.cpus": 1,
      // The containers write checkpoints and the job's output where the JobManager reads them.
      "resourcemanager.docker.binds": `${work}:${work}`,
      "resourcemanager.taskmanagers.min": 1,
      "resourcemanager.taskmanagers.max": 3,
      "resourcemanager.taskmanager-timeout": "2s",
    };
    const cluster = new Cluster(settings);
    await cluster.start();
    try {
      // min: one TaskManager container without any job, with the configured labels and limits.
      let tms = await cluster.until(
        "one TaskManager registered",
        () => cluster.taskmanagers(),
        (t) => t.length === 1,
      );
      const [first] = await containersOf(clusterId);
      expect(first?.Labels).toMatchObject({ "riffle.component": "taskmanager", "riffle.taskmanager-id": tms[0]!.id });
      const inspected = await docker.getContainer(first!.Id).inspect();
      expect(inspected.Config.Image).toBe(IMAGE);
      expect(inspected.HostConfig).toMatchObject({ NetworkMode: "host", Memory: 1024 ** 3, NanoCpus: 1e9 });

      // A job of parallelism 4 needs 4 slots: a second container.
      const args = ["--out", join(work, "out"), "--count", "10000000", "--rate", "200", "--keys", "10"];
      const submitted = await cluster.submit("e2e/jobs/savepoint-count.ts", 4, args);
      expect(submitted.status).toBe(202);
      const jobId = submitted.body.jobid;
      await cluster.until("the job running on 4 slots", () => cluster.job(jobId), running, 90_000);
      tms = await cluster.taskmanagers();
      expect(tms).toHaveLength(2);
      expect((await containersOf(clusterId)).filter((c) => c.State === "running")).toHaveLength(2);

      // `docker kill`: the job restarts and a new container replaces the killed one.
      const victim = tms[1]!;
      await docker.getContainer(`riffle-${clusterId}-${victim.id}`).kill();
      await cluster.jm.waitForLog((l) => String(l.msg).includes(`riffle-${clusterId}-${victim.id} was killed (exit code 137`), 30_000);
      await cluster.until(
        "a replacement registered and the job running again",
        async () => ({ tms: await cluster.taskmanagers(), job: await cluster.job(jobId) }),
        (s) => s.tms.length === 2 && !s.tms.some((t) => t.id === victim.id) && running(s.job),
        90_000,
      );
      expect(await cluster.metric("riffle_resourcemanager_taskmanagers_exited")).toBe(1);
      expect(await cluster.metric("riffle_resourcemanager_taskmanagers_started")).toBe(3);
      // The killed container is removed once noticed.
      await cluster.until(
        "the killed container removed",
        () => containersOf(clusterId),
        (cs) => cs.length === 2,
      );

      // Cancelled: after the idle timeout one container is released (stopped and removed), down to min.
      expect((await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`)).status).toBe(202);
      tms = await cluster.until(
        "idle TaskManagers released down to min",
        () => cluster.taskmanagers(),
        (t) => t.length === 1,
      );
      expect(await cluster.metric("riffle_resourcemanager_taskmanagers_released")).toBe(1);
      const survivor = tms[0]!;
      await cluster.until(
        "only the survivor's container left",
        () => containersOf(clusterId),
        (cs) => cs.length === 1 && cs[0]!.Labels["riffle.taskmanager-id"] === survivor.id,
      );

      // The JobManager crashes; its container runs on. A container of the cluster that ended meanwhile
      // (one that exits at once) is what a previous leader may leave too.
      cluster.jm.kill("SIGKILL");
      await cluster.jm.exited;
      const ended = await docker.createContainer({
        name: `riffle-${clusterId}-taskmanager-ended`,
        Image: IMAGE,
        Cmd: ["--version"],
        Labels: { "riffle.component": "taskmanager", "riffle.cluster-id": clusterId, "riffle.taskmanager-id": "taskmanager-ended" },
        HostConfig: { NetworkMode: "host" },
      });
      await ended.start();
      expect((await ended.wait()).StatusCode).toBe(0);

      // The next JobManager adopts the running container (it registers again) and removes the ended one.
      await cluster.start();
      await cluster.jm.waitForLog((l) => String(l.msg).includes("adopted 1 TaskManager(s)"), 20_000);
      tms = await cluster.until(
        "the adopted TaskManager registered again",
        () => cluster.taskmanagers(),
        (t) => t.length === 1,
      );
      expect(tms[0]!.id).toBe(survivor.id);
      const left = await containersOf(clusterId);
      expect(left.map((c) => c.Labels["riffle.taskmanager-id"])).toEqual([survivor.id]);
      expect(
        cluster.jm.logs.some((l) => l.msg === "removed a TaskManager container a previous JobManager left" && l.taskmanagerId === "taskmanager-ended"),
      ).toBe(true);
      expect(await cluster.metric("riffle_resourcemanager_taskmanagers_started")).toBe(0);

      // An orderly shutdown stops and removes its containers.
      await cluster.jm.stop(60_000);
      expect(await containersOf(clusterId)).toEqual([]);
    } finally {
      await cluster.jm.stop();
      await removeContainersOf(clusterId);
    }
  }, 420_000);

  it("reports a missing image clearly, backs off, and keeps running jobs running", async () => {
    const clusterId = `e2e-docker-missing-${process.pid}`;
    clusterIds.add(clusterId);
    const rpcPort = await freePort();
    const cluster = new Cluster({
      "rest.port": 0,
      "jobmanager.rpc.port": rpcPort,
      "jobmanager.storage.dir": join(work, "missing"),
      "state.checkpoints.dir": join(work, "missing-checkpoints"),
      "taskmanager.slots": 2,
      "high-availability.cluster-id": clusterId,
      "resourcemanager.provider": "docker",
      "resourcemanager.docker.image": "riffle-missing:none",
      "resourcemanager.taskmanagers.max": 3,
      "resourcemanager.start-worker.retry-interval": "500ms",
      "jobmanager.slot-request.timeout": "3s",
    });
    await cluster.start();
    // A TaskManager started by hand: the job that runs on it must not notice the provider's trouble.
    const tm = new RiffleProcess("taskmanager", [
      "taskmanager",
      ...["--set", "taskmanager.id=by-hand", "--set", `taskmanager.jobmanager.address=127.0.0.1:${rpcPort}`],
      ...["--set", "taskmanager.rpc.port=0", "--set", "taskmanager.metrics.port=0", "--set", "taskmanager.slots=2"],
    ]);
    try {
      await cluster.until(
        "the hand-started TaskManager registered",
        () => cluster.taskmanagers(),
        (t) => t.length === 1,
      );
      const args = ["--out", join(work, "missing-out"), "--count", "10000000", "--rate", "100", "--keys", "10"];
      const a = await cluster.submit("e2e/jobs/savepoint-count.ts", 2, args);
      await cluster.until("job A running", () => cluster.job(a.body.jobid), running);

      // Job B needs 4 more slots: the provider cannot start a container, says why, and backs off.
      // (A job without a restart strategy: it fails at the first slot request that times out.)
      const b = await cluster.submit("e2e/jobs/count-to.ts", 4);
      expect(b.status).toBe(202);
      const line = await cluster.jm.waitForLog((l) => String(l.msg).startsWith("could not start a TaskManager"), 30_000);
      expect(line.msg).toMatch(
        /image riffle-missing:none is not on the Docker daemon at .* \(the docker provider never pulls\): build it with `npm run docker:image`/,
      );
      const failed = await cluster.until(
        "job B failed for want of slots",
        () => cluster.job(b.body.jobid),
        (j) => j.state === "FAILED",
      );
      expect(failed.failure?.code).toBe("NO_RESOURCE_AVAILABLE");
      expect(failed.failure?.message).toMatch(
        /the docker provider cannot start TaskManagers \(PROVIDER_FAILED: image riffle-missing:none is not on the Docker daemon/,
      );
      // Two containers per attempt, the wait doubling from 500 ms: a handful of attempts, not two per tick
      // (a dozen or more in the 3 s and more job B waited).
      const failures = (await cluster.metric("riffle_resourcemanager_start_failures")) ?? 0;
      expect(failures).toBeGreaterThanOrEqual(2);
      expect(failures).toBeLessThanOrEqual(8);
      expect(running(await cluster.job(a.body.jobid))).toBe(true);
      expect(await containersOf(clusterId)).toEqual([]);
    } finally {
      await cluster.jm.stop();
      await tm.stop();
      await removeContainersOf(clusterId);
    }
  }, 180_000);

  it("reports a container killed for exceeding its memory limit, removes it, and backs off", async () => {
    const clusterId = `e2e-docker-oom-${process.pid}`;
    clusterIds.add(clusterId);
    const cluster = new Cluster({
      "rest.port": 0,
      "jobmanager.rpc.port": 0,
      "jobmanager.storage.dir": join(work, "oom"),
      "high-availability.cluster-id": clusterId,
      "resourcemanager.provider": "docker",
      "resourcemanager.docker.image": IMAGE,
      // Less than Node needs to load the TaskManager: the kernel kills it.
      "resourcemanager.docker.memory": "24mb",
      "resourcemanager.taskmanagers.min": 1,
      "resourcemanager.start-worker.retry-interval": "500ms",
    });
    await cluster.start();
    try {
      const killed = await cluster.jm.waitForLog(
        (l) => /^TaskManager container riffle-e2e-docker-oom-\d+-taskmanager-\w+ was killed/.test(String(l.msg)),
        60_000,
      );
      expect(killed.msg).toMatch(/was killed for exceeding its memory limit \(resourcemanager.docker.memory; exit code 137\)$/);
      const failed = await cluster.jm.waitForLog((l) => String(l.msg).startsWith("could not start a TaskManager"), 10_000);
      expect(failed.msg).toMatch(/exceeding its memory limit .* before it registered/);
      await cluster.until(
        "its container removed",
        () => containersOf(clusterId),
        (cs) => cs.every((c) => c.State === "running" || c.State === "created"),
      );
      expect(await cluster.metric("riffle_resourcemanager_taskmanagers_exited")).toBeGreaterThanOrEqual(1);
    } finally {
      await cluster.jm.stop();
      await removeContainersOf(clusterId);
    }
  }, 120_000);

  it("with high availability: the standby that takes over adopts the containers, they register with it, and the job finishes on them", async () => {
    const clusterId = `e2e-docker-ha-${process.pid}`;
    clusterIds.add(clusterId);
    const etcd = await EtcdCluster.start();
    let cluster: HaTestCluster | undefined;
    const records = 40_000;
    try {
      cluster = await HaTestCluster.startHa({
        etcd,
        clusterId,
        jobmanagers: 2,
        taskmanagers: 0,
        // The containers are given both JobManagers' addresses.
        jobmanagersKnowEachOther: true,
        config: { "heartbeat.interval": "500ms", "heartbeat.timeout": "5s", "taskmanager.slots": 2, "state.checkpoints.dir": join(work, "ha-checkpoints") },
        jobmanager: {
          "resourcemanager.provider": "docker",
          "resourcemanager.docker.image": IMAGE,
          "resourcemanager.docker.memory": "1gb",
          "resourcemanager.docker.binds": `${work}:${work}`,
          "resourcemanager.taskmanagers.max": 2,
        },
      });
      const ha = cluster;
      const metric = async (restUrl: string, name: string) =>
        metricValue(await (await fetch(`${restUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text(), name, { provider: "docker" });
      const taskmanagers = async () => {
        const res = await ha.rest<TaskManagersInfo>("GET", "/taskmanagers");
        return res.status === 200 ? res.body.taskmanagers : [];
      };
      const out = join(work, "ha-out");
      const jobId = await ha.submit("e2e/jobs/exactly-once.ts", {
        parallelism: 4,
        args: ["--out", out, "--count", String(records), "--rate", "2000", "--backend", "leveldb"],
      });
      await ha.waitForStatus(jobId, "RUNNING", 120_000);
      await waitForCheckpoints<{ counts: { completed: number } }>(ha, jobId, (s) => s.counts.completed > 0, 120_000);
      const before = await taskmanagers();
      expect(before).toHaveLength(2);
      expect(await metric((await ha.leader()).restUrl, "riffle_resourcemanager_taskmanagers_started")).toBe(2);

      const dead = await ha.killLeader();
      const next = await ha.leader(30_000);
      expect(next).not.toBe(dead);
      await next.process.waitForLog((l) => String(l.msg).includes("adopted 2 TaskManager(s)"), 60_000);
      const deadline = Date.now() + 60_000;
      let after = await taskmanagers();
      while (!(after.length === 2 && before.every((b) => after.some((a) => a.id === b.id))) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        after = await taskmanagers();
      }
      expect(after.map((t) => t.id).sort()).toEqual(before.map((t) => t.id).sort());
      expect((await ha.waitForStatus(jobId, "FINISHED", 180_000)).state).toBe("FINISHED");
      // Nothing started anew, and no adopted container counted as a failed start (no back-off, no held scale-ups).
      expect(await metric(next.restUrl, "riffle_resourcemanager_taskmanagers_started")).toBe(0);
      expect(await metric(next.restUrl, "riffle_resourcemanager_start_failures")).toBe(0);
      expect(await metric(next.restUrl, "riffle_resourcemanager_registration_timeouts")).toBe(0);
      expect((await containersOf(clusterId)).map((c) => c.Labels["riffle.taskmanager-id"]).sort()).toEqual(before.map((t) => t.id).sort());
      const lines = committedLines(out);
      expect(lines).toHaveLength(records);
      expect(new Set(lines).size).toBe(records);
    } finally {
      await cluster?.stop();
      await etcd.close();
      await removeContainersOf(clusterId);
    }
  }, 420_000);
});

describe("docker provider without a daemon", () => {
  it("starts the JobManager, says the daemon cannot be reached, and asks it again with back-off", async () => {
    const cluster = new Cluster({
      "rest.port": 0,
      "jobmanager.rpc.port": 0,
      "jobmanager.storage.dir": join(work, "no-daemon"),
      "resourcemanager.provider": "docker",
      "resourcemanager.docker.host": join(work, "no-such-docker.sock"),
      "resourcemanager.taskmanagers.min": 1,
      "resourcemanager.start-worker.retry-interval": "500ms",
      "jobmanager.slot-request.timeout": "3s",
    });
    await cluster.start();
    try {
      const sock = join(work, "no-such-docker.sock");
      // What runs is unknown while the daemon cannot be asked: nothing is started (containers a
      // previous JobManager left are adopted once it answers), and the list is tried again, backing off.
      const cannotList = (retryInMs: number) => (l: { msg?: unknown; retryInMs?: unknown }) =>
        String(l.msg).startsWith("the docker provider cannot list its TaskManagers") && l.retryInMs === retryInMs;
      const first = await cluster.jm.waitForLog(cannotList(1_000), 10_000);
      expect(first.msg).toContain(`cannot reach the Docker daemon at unix://${sock} (ENOENT) to list the cluster's TaskManager containers`);
      expect(first.msg).toContain("start dockerd, or point resourcemanager.docker.host (or DOCKER_HOST) at a running one");
      await cluster.jm.waitForLog(cannotList(2_000), 10_000);
      expect(await cluster.metric("riffle_resourcemanager_start_failures")).toBe(0);
      expect((await cluster.rest("GET", "/overview")).status).toBe(200);
      const submitted = await cluster.submit("e2e/jobs/count-to.ts", 1);
      const failed = await cluster.until(
        "the job failed for want of slots",
        () => cluster.job(submitted.body.jobid),
        (j) => j.state === "FAILED",
        30_000,
      );
      expect(failed.failure?.message).toMatch(
        /the docker provider cannot start TaskManagers \(cannot list its TaskManagers: PROVIDER_FAILED: cannot reach the Docker daemon/,
      );
    } finally {
      await cluster.jm.stop();
    }
  }, 90_000);
});
