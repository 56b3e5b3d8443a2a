import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { RiffleError, freePort, rpc } from "@riffle/shared";
import { workDirectoryOwner } from "@riffle/taskmanager";
import type * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RiffleProcess, TestCluster, allRunning, childrenOf, mulberry32, waitUntilDead, setFlags, type Settings } from "./harness/index.js";

/**
 * TaskManagers end when they say they do, and leave nothing behind: one that gives up on its
 * JobManager exits 1 with the reason in its last log line (a supervisor then restarts it), and work
 * directories of killed TaskManagers are removed by the next TaskManager that starts on the host,
 * never those of live ones, whatever PID namespace they run in.
 */

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "riffle-tm-lifecycle-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The names of the TaskManager work directories under `root`. */
function workDirs(root: string): string[] {
  return readdirSync(root)
    .filter((name) => workDirectoryOwner(name) !== undefined)
    .sort();
}

/** Another PID namespace needs root (CI runs the tests as root) and util-linux's unshare. */
const canUnshare = process.platform === "linux" && process.getuid?.() === 0;

/** The name of the work directory a TaskManager made, as it logged it at its start. */
function workDirOf(tm: RiffleProcess): string {
  const started = tm.logs.find((l) => l.msg === "TaskManager started");
  if (!started) throw new Error(`${tm.name} has not started\n${tm.tail()}`);
  return basename(started.workDir as string);
}

/** A TaskManager with these settings (`--set`), not registered yet: its JobManager may not exist. */
function startTaskManager(name: string, settings: Settings): RiffleProcess {
  return new RiffleProcess(name, ["taskmanager", ...setFlags(settings)]);
}

describe("TaskManager lifecycle", () => {
  it("kill -9 of the JobManager: every TaskManager exits 1 within the registration timeout plus a few seconds, saying why", async () => {
    const REGISTRATION_TIMEOUT_MS = 5_000;
    const root = join(work, "jobmanager-killed");
    const cluster = await TestCluster.start({
      taskmanagers: 3,
      taskmanager: { "taskmanager.registration.timeout": `${REGISTRATION_TIMEOUT_MS}ms`, "taskmanager.tmp.dir": root },
    });
    try {
      // A running job, so the TaskManagers have tasks (and state) when their JobManager goes.
      const jobId = await cluster.submit("e2e/jobs/unbounded.ts", { parallelism: 3, args: ["--rate", "500"] });
      await cluster.waitForJob(jobId, allRunning);
      expect(workDirs(root)).toEqual(cluster.taskmanagers.map(workDirOf).sort());

      cluster.jobmanager.kill("SIGKILL");
      await cluster.jobmanager.exited;
      const killedAt = Date.now();
      const deadline = REGISTRATION_TIMEOUT_MS + 5_000;
      const exits = await Promise.all(
        cluster.taskmanagers.map(async (tm) => {
          const { code, signal } = await tm.waitForExit(deadline);
          return { tm, code, signal, afterMs: Date.now() - killedAt };
        }),
      );
      console.log(`TaskManagers exited ${exits.map((e) => e.afterMs).join(", ")} ms after the JobManager was killed`);
      for (const { tm, code, signal } of exits) {
        expect({ name: tm.name, code, signal }).toEqual({ name: tm.name, code: 1, signal: null });
        // The reason is the last log line, and the last line on stderr.
        const last = tm.logs.at(-1)!;
        expect(last).toMatchObject({ level: 60, code: "JOBMANAGER_UNREACHABLE" });
        expect(last.msg).toMatch(/^TaskManager exits: could not register with the JobManager at 127\.0\.0\.1:\d+ within 5000 ms/);
        expect(tm.logs.some((l) => l.msg === "lost the JobManager; cancelling tasks and registering again")).toBe(true);
        expect(tm.stderr.at(-1)).toMatch(/^error\[JOBMANAGER_UNREACHABLE\]: could not register with the JobManager/);
      }
      // Each removed its work directory, and the socket beside it, on the way out.
      expect(readdirSync(root)).toEqual([]);
    } finally {
      await cluster.stop();
    }
  }, 90_000);

  it("kill -9 of TaskManagers, again and again: the number of work directories does not grow", async () => {
    const root = join(work, "taskmanagers-killed");
    const random = mulberry32(20261123);
    const cluster = await TestCluster.start({
      taskmanagers: 2,
      config: { "heartbeat.interval": "500ms", "heartbeat.timeout": "3s" },
      taskmanager: { "taskmanager.tmp.dir": root },
    });
    try {
      // LevelDB state and the job's bundle in every work directory.
      const out = join(work, "out");
      const jobId = await cluster.submit("e2e/jobs/exactly-once.ts", {
        parallelism: 2,
        args: ["--out", out, "--count", "100000000", "--rate", "2000", "--backend", "leveldb"],
      });
      let restarts = -1;
      for (let kill = 0; kill < 4; kill++) {
        const running = await cluster.waitForJob(jobId, (j) => j.numRestarts > restarts && allRunning(j), 60_000);
        restarts = running.numRestarts;
        const alive = cluster.taskmanagers.filter((t) => !t.hasExited);
        expect(workDirs(root)).toEqual(alive.map(workDirOf).sort());
        const victim = alive[Math.floor(random() * alive.length)]!;
        expect(readdirSync(join(root, workDirOf(victim)))).toContain("bundles");
        victim.kill("SIGKILL");
        await victim.exited;
        // Left behind by the killed process...
        expect(workDirs(root)).toContain(workDirOf(victim));
        // ...and removed by the next TaskManager to start under the same root.
        await cluster.addTaskManager();
        expect(workDirs(root)).not.toContain(workDirOf(victim));
        expect(workDirs(root)).toHaveLength(2);
      }
      expect((await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`)).status).toBe(202);
      await cluster.waitForStatus(jobId, "CANCELED");
    } finally {
      await cluster.stop();
    }
    // Stopped with SIGTERM, each TaskManager removed its own.
    expect(readdirSync(root)).toEqual([]);
  }, 180_000);

  it.runIf(canUnshare)(
    "a TaskManager in another PID namespace keeps its work directory, and one killed but not yet reaped loses it, when another starts on the host",
    async () => {
      const root = join(work, "namespaces");
      const cluster = await TestCluster.start({ taskmanagers: 0, taskmanager: { "taskmanager.tmp.dir": root } });
      try {
        // Pid 1 in its own PID namespace, the same kernel and host name, the same root.
        const namespaced = await cluster.addTaskManager({}, ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]);
        expect(namespaced.logs.find((l) => l.msg === "TaskManager started")?.pid).toBe(1);
        // Its parent (the shell, then sleep) never waits for it: killed, it stays a zombie.
        const unreaped = await cluster.addTaskManager({}, ["sh", "-c", '"$@" & exec sleep 600', "sh"]);
        const unreapedPid = childrenOf(unreaped.pid)[0]!;
        process.kill(unreapedPid, "SIGKILL");
        expect(await waitUntilDead(unreapedPid)).toBe("zombie");

        const next = await cluster.addTaskManager();
        expect(workDirs(root)).toEqual([workDirOf(namespaced), workDirOf(next)].sort());

        // The one in the namespace still runs, and removes its own directory when stopped (unshare
        // passes no signal on: the TaskManager gets it).
        process.kill(childrenOf(namespaced.pid)[0]!, "SIGTERM");
        expect((await namespaced.waitForExit(15_000)).code).toBe(0);
        expect(namespaced.logs.at(-1)?.msg).toBe("TaskManager stopped");
        expect(workDirs(root)).toEqual([workDirOf(next)]);
      } finally {
        await cluster.stop();
      }
      expect(readdirSync(root)).toEqual([]);
    },
    90_000,
  );

  it("a TaskManager that fails to start says why in its last log line, and exits 1", async () => {
    const root = join(work, "startup");
    const base = { "taskmanager.rpc.port": 0, "taskmanager.metrics.port": 0, "taskmanager.tmp.dir": root };
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const takenPort = (taken.address() as { port: number }).port;
    const notADirectory = join(work, "a-regular-file");
    writeFileSync(notADirectory, "x");
    try {
      const cases = [
        {
          code: "JOBMANAGER_UNREACHABLE",
          settings: { ...base, "taskmanager.jobmanager.address": `127.0.0.1:${await freePort()}`, "taskmanager.registration.timeout": "1s" },
        },
        { code: "PORT_IN_USE", settings: { ...base, "taskmanager.rpc.port": takenPort } },
        { code: "WORKDIR_FAILED", settings: { ...base, "taskmanager.tmp.dir": join(notADirectory, "tmp") } },
      ];
      await Promise.all(
        cases.map(async ({ code, settings }) => {
          const tm = startTaskManager(`taskmanager-${code}`, settings);
          expect((await tm.waitForExit(30_000)).code).toBe(1);
          const last = tm.logs.at(-1)!;
          expect({ level: last.level, code: last.code }).toEqual({ level: 60, code });
          expect(last.msg).toMatch(/^TaskManager exits: /);
          expect(tm.stderr.at(-1)).toMatch(new RegExp(`^error\\[${code}\\]: `));
        }),
      );
      // The one that got as far as its work directory removed it.
      expect(readdirSync(root)).toEqual([]);
    } finally {
      taken.close();
    }
  }, 60_000);

  it("SIGTERM while a TaskManager registers stops the registration: exit 0 at once, work directory removed", async () => {
    const root = join(work, "registering");
    const tm = startTaskManager("taskmanager-registering", {
      "taskmanager.jobmanager.address": `127.0.0.1:${await freePort()}`,
      "taskmanager.registration.timeout": "60s",
      "taskmanager.rpc.port": 0,
      "taskmanager.metrics.port": 0,
      "taskmanager.tmp.dir": root,
    });
    await tm.waitForLog((l) => l.msg === "TaskManager started", 30_000);
    const signalled = Date.now();
    tm.kill("SIGTERM");
    // Far below the registration timeout, which an ignored signal would wait for.
    expect((await tm.waitForExit(20_000)).code).toBe(0);
    console.log(`exited ${Date.now() - signalled} ms after SIGTERM, registering`);
    expect(tm.logs.at(-1)?.msg).toBe("TaskManager stopped");
    expect(tm.stderr).toEqual([]);
    expect(readdirSync(root)).toEqual([]);
  }, 60_000);

  it("SIGTERM with a call still open: the work directory goes first, the call is cut after a deadline, exit 0", async () => {
    const root = join(work, "open-call");
    const cluster = await TestCluster.start({ taskmanagers: 1, taskmanager: { "taskmanager.tmp.dir": root } });
    let client: grpc.Client | undefined;
    try {
      const tm = cluster.taskmanagers[0]!;
      const started = tm.logs.find((l) => l.msg === "TaskManager started")!;
      const dir = join(root, workDirOf(tm));
      // A peer's call left open: a Locate for a partition never deployed here waits for it (up to the
      // partition-request timeout, 10 s), and the gRPC server's graceful shutdown waits for the call.
      // The slots' close comes before the servers'.
      const locator = rpc.createClient<grpc.Client>("PartitionLocation", `127.0.0.1:${started.rpcPort as number}`);
      client = locator;
      const open = rpc.unary(locator, "Locate", { partitionId: "never-deployed" }, 60_000).catch((err: Error) => err);
      // The server has the Locate once a later call on the same connection is answered (HTTP/2 keeps
      // their order): an unknown method, answered at once.
      const identity = (b: Buffer) => b;
      await new Promise<void>((resolve) =>
        locator.makeUnaryRequest("/riffle.v1.PartitionLocation/Unknown", identity, identity, Buffer.alloc(0), () => resolve()),
      );
      tm.kill("SIGTERM");
      await tm.waitForLog((l) => l.msg === "calls or connections still open at shutdown; closing them", 20_000);
      expect(existsSync(dir)).toBe(false);
      expect((await tm.waitForExit(10_000)).code).toBe(0);
      expect(tm.logs.at(-1)?.msg).toBe("TaskManager stopped");
      expect(readdirSync(root)).toEqual([]);
      // The open call was cut, not answered (its answer would have been PARTITION_NOT_FOUND, after 10 s).
      const cut = await open;
      expect(cut).toBeInstanceOf(RiffleError);
      expect((cut as RiffleError).code).not.toBe("PARTITION_NOT_FOUND");
    } finally {
      client?.close();
      await cluster.stop();
    }
  }, 60_000);
});
