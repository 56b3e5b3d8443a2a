import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestCluster } from "./harness/index.js";

/**
 * User code that misbehaves costs its own slot at most (decision record 0006): one TaskManager with
 * two slots runs a healthy job in one slot while the other slot's job loops, allocates without bound,
 * calls process.exit or computes for 20 s without yielding.
 */
const CANCELLATION_TIMEOUT_MS = 2000;

type TaskManagers = { taskmanagers: Array<{ id: string; registeredAt: number; freeSlots: number; slotsNumber: number }> };

/** CPU time (user + system, in seconds) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  // Fields 14 and 15 of stat (utime, stime), counted from 3 after the command: in clock ticks (100/s).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

describe("a TaskManager whose slots run misbehaving user code", () => {
  let cluster: TestCluster;
  let healthy: string;
  let registration: { id: string; registeredAt: number };

  beforeAll(async () => {
    cluster = await TestCluster.start({
      taskmanagers: 1,
      taskmanager: { "taskmanager.slots": 2, "task.cancellation.timeout": `${CANCELLATION_TIMEOUT_MS}ms`, "taskmanager.memory.slot.heap-size": "128mb" },
    });
    healthy = await cluster.submit("e2e/jobs/unbounded.ts", { parallelism: 1, args: ["--rate", "100"] });
    await cluster.waitForJob(healthy, (j) => j.state === "RUNNING" && j.vertices.at(-1)!.metrics["read-records"] > 0);
    const [tm] = (await cluster.rest<TaskManagers>("GET", "/taskmanagers")).body.taskmanagers;
    registration = { id: tm!.id, registeredAt: tm!.registeredAt };
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  /** The TaskManager is registered as before (not re-registered), and the healthy job kept running. */
  async function stillHealthy(): Promise<void> {
    const tms = (await cluster.rest<TaskManagers>("GET", "/taskmanagers")).body.taskmanagers;
    expect(tms.map((t) => ({ id: t.id, registeredAt: t.registeredAt }))).toEqual([registration]);
    const job = await cluster.job(healthy);
    expect(job.state).toBe("RUNNING");
    expect(job.numRestarts).toBe(0);
    const before = job.vertices.at(-1)!.metrics["read-records"];
    await cluster.waitForJob(healthy, (j) => j.vertices.at(-1)!.metrics["read-records"] > before, 10_000);
    expect(cluster.jobmanager.logs.filter((l) => /was lost/.test(l.msg))).toEqual([]);
  }

  /** The TaskManager's CPU use over `ms`, in cores. */
  async function cpuRate(ms: number): Promise<number> {
    const pid = cluster.taskmanagers[0]!.child.pid!;
    const t0 = cpuSeconds(pid);
    const w0 = Date.now();
    await new Promise((r) => setTimeout(r, ms));
    return (cpuSeconds(pid) - t0) / ((Date.now() - w0) / 1000);
  }

  it("a map that loops forever is terminated within the cancellation timeout; the TaskManager stays registered, idles, and runs a new job", async () => {
    const jobId = await cluster.submit("e2e/jobs/runaway.ts", { args: ["--mode", "loop"] });
    await cluster.waitForStatus(jobId, "RUNNING");
    const tm = cluster.taskmanagers[0]!;
    // The loop holds its slot's thread: the TaskManager spins (as much of a core as a loaded machine
    // gives it), and the loop's chain never gets a record to its sink.
    const spinning = await cpuRate(3000);
    expect(spinning).toBeGreaterThan(0.1);
    expect((await cluster.job(jobId)).vertices[0]!.metrics["read-records"]).toBe(0);

    const cancelledAt = Date.now();
    expect((await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`)).status).toBe(202);
    await cluster.waitForStatus(jobId, "CANCELED", CANCELLATION_TIMEOUT_MS + 10_000);
    expect(Date.now() - cancelledAt).toBeLessThan(CANCELLATION_TIMEOUT_MS + 10_000);
    await tm.waitForLog((l) => /did not stop within task.cancellation.timeout/.test(l.msg) && String(l.task).includes("runaway loop"));
    await stillHealthy();

    // Back to idle once the slot's fresh worker has started: what the healthy job at 100 records/s
    // costs, far below the spinning.
    await tm.waitForLog((l) => l.msg === "slot worker ready" && l.slot === 1 && (l.time as number) >= cancelledAt);
    const after = await cpuRate(3000);
    expect(after).toBeLessThan(spinning / 2);
    expect(after).toBeLessThan(0.3);

    // The slot takes a new job.
    const next = await cluster.submit("e2e/jobs/runaway.ts", { args: ["--mode", "compute", "--seconds", "0", "--count", "1000"] });
    await cluster.waitForStatus(next, "FINISHED", 30_000);
  }, 90_000);

  it("unbounded allocation fails the task with an out-of-memory cause; the TaskManager lives", async () => {
    const jobId = await cluster.submit("e2e/jobs/runaway.ts", { args: ["--mode", "allocate"] });
    const job = await cluster.waitForStatus(jobId, "FAILED", 60_000);
    expect(job.failure?.code).toBe("TASK_OUT_OF_MEMORY");
    expect(job.failure?.message).toMatch(/out of memory in .*runaway allocate.*: the slot's JavaScript heap reached its limit of 128 MB/);
    await stillHealthy();
  }, 90_000);

  it("process.exit in user code fails the task with that cause; the TaskManager lives", async () => {
    const jobId = await cluster.submit("e2e/jobs/runaway.ts", { args: ["--mode", "exit"] });
    const job = await cluster.waitForStatus(jobId, "FAILED", 30_000);
    expect(job.failure?.code).toBe("TASK_EXITED");
    expect(job.failure?.message).toMatch(/user code called process.exit\(3\) in .*runaway exit/);
    await stillHealthy();
  }, 60_000);

  it("a task that computes for 20 s without yielding does not cost its TaskManager its registration", async () => {
    const jobId = await cluster.submit("e2e/jobs/runaway.ts", { args: ["--mode", "compute", "--seconds", "20", "--count", "1000"] });
    const started = Date.now();
    const job = await cluster.waitForStatus(jobId, "FINISHED", 60_000);
    // 20 s is more than twice the heartbeat timeout (8 s).
    expect(Date.now() - started).toBeGreaterThanOrEqual(20_000);
    expect(job.numRestarts).toBe(0);
    await stillHealthy();
  }, 90_000);
});

describe("a slot that computes without yielding, reading from another TaskManager", () => {
  let cluster: TestCluster | undefined;

  afterAll(async () => {
    await cluster?.stop();
  });

  it("keeps its streams to the other TaskManager's slot through 20 s of computing: the job finishes without a restart", async () => {
    // Since decision 0018 a slot's worker holds its data connections itself: nothing on them may
    // depend on the worker answering within seconds (HTTP/2 keepalive pings did, and dropped every
    // stream of a connection after ~15 s).
    cluster = await TestCluster.start({ taskmanagers: 2 });
    const jobId = await cluster.submit("e2e/jobs/runaway.ts", { args: ["--mode", "compute", "--seconds", "20", "--count", "1000", "--parallelism", "2"] });
    const started = Date.now();
    const job = await cluster.waitForStatus(jobId, "FINISHED", 60_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(20_000);
    expect(job.numRestarts).toBe(0);
    const placement = await Promise.all(job.vertices.map((v) => cluster!.vertex(jobId, v.id)));
    // The map's subtasks run on the two TaskManagers: the keyBy crosses processes.
    expect(new Set(placement.at(-1)!.subtasks.map((s) => s["taskmanager-id"])).size).toBe(2);
  }, 90_000);
});
