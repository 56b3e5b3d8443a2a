import { join } from "node:path";
import { rpc, type CancelTaskRequest } from "@riffle/shared";
import type * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EtcdCluster, HaTestCluster, RiffleProcess, committedLines, metricValue, mulberry32, waitForCheckpoints } from "./harness/index.js";

const RECORDS = 200_000;

interface CheckpointCounts {
  counts: { completed: number; in_progress: number };
}

/**
 * Issue 10: three JobManagers campaign on a real etcd; the leader is killed with SIGKILL while an
 * exactly-once job (keyed state in LevelDB, the exactly-once file sink) runs. A standby leads, takes
 * the job over from its latest checkpoint, and the committed output equals a failure-free run.
 */
describe("JobManager high availability on etcd", () => {
  let etcd: EtcdCluster;
  let cluster: HaTestCluster;

  beforeAll(async () => {
    etcd = await EtcdCluster.start();
    cluster = await HaTestCluster.startHa({
      etcd,
      jobmanagers: 3,
      taskmanagers: 2,
      config: { "heartbeat.interval": "500ms", "heartbeat.timeout": "3s" },
      taskmanager: { "taskmanager.slots": 2 },
    });
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
    await etcd?.close();
  });

  const jobConfig = (out: string, rate: number) => ({
    parallelism: 2,
    args: ["--out", out, "--count", String(RECORDS), "--rate", String(rate), "--backend", "leveldb"],
  });
  let expected: string[] | undefined;
  let cleanJob = "";
  /** The committed output of a failure-free run (run once, by whichever test needs it first). */
  async function failureFree(): Promise<string[]> {
    if (expected) return expected;
    const cleanDir = join(cluster.dir, "clean");
    const clean = await cluster.submit("e2e/jobs/exactly-once.ts", jobConfig(cleanDir, 0));
    await cluster.waitForStatus(clean, "FINISHED", 120_000);
    cleanJob = clean;
    expected = committedLines(cleanDir);
    expect(expected.length).toBe(RECORDS);
    return expected;
  }

  it("kill -9 of the leader, twice (once during a checkpoint): a standby takes the job over and the output is exactly once", async () => {
    const random = mulberry32(Number(process.env.RIFFLE_CHAOS_SEED ?? 20261207));
    const expected = await failureFree();
    const clean = cleanJob;
    const cleanDir = join(cluster.dir, "clean");

    const chaosDir = join(cluster.dir, "chaos");
    const jobId = await cluster.submit("e2e/jobs/exactly-once.ts", jobConfig(chaosDir, 10_000));
    const leaders: string[] = [];
    for (let kill = 0; kill < 2; kill++) {
      // Running under this leader, with a checkpoint of its own completed.
      await cluster.waitForStatus(jobId, "RUNNING", 60_000);
      const before = await waitForCheckpoints<CheckpointCounts>(cluster, jobId, (s) => s.counts.completed > 0, 60_000);
      await new Promise((r) => setTimeout(r, 300 + Math.floor(random() * 1_500)));
      // The second kill lands while a checkpoint is in flight.
      if (kill === 1) await waitForCheckpoints<CheckpointCounts>(cluster, jobId, (s) => s.counts.in_progress > 0, 30_000);
      const dead = await cluster.killLeader();
      leaders.push(dead.process.name);
      expect(before.counts.completed).toBeGreaterThan(0);
      const next = await cluster.leader(30_000);
      expect(next).not.toBe(dead);
      // The dead one comes back as a standby, so that three JobManagers campaign again.
      await cluster.replace(dead);
    }
    const job = await cluster.waitForStatus(jobId, "FINISHED", 180_000);
    expect(job.state).toBe("FINISHED");
    const actual = committedLines(chaosDir);
    expect(actual.length).toBe(expected.length);
    expect(actual).toEqual(expected);

    // The finished clean job is not rerun by the new leaders: still FINISHED, and its output unchanged.
    expect((await cluster.job(clean)).state).toBe("FINISHED");
    expect(committedLines(cleanDir)).toEqual(expected);
    // The new leader counts the jobs it took over.
    const leader = await cluster.leader();
    const metrics = await (await fetch(`${leader.restUrl}/metrics`)).text();
    expect(metricValue(metrics, "riffle_jobmanager_is_leader")).toBe(1);
    expect(metricValue(metrics, "riffle_jobmanager_job_recoveries_total")).toBeGreaterThanOrEqual(1);
  }, 420_000);

  it("SIGSTOP of the leader past its lease, then SIGCONT: a standby takes over, the old one steps down, its token is refused, the output is exactly once", async () => {
    const expected = await failureFree();
    const outDir = join(cluster.dir, "paused");
    const jobId = await cluster.submit("e2e/jobs/exactly-once.ts", jobConfig(outDir, 10_000));
    await cluster.waitForStatus(jobId, "RUNNING", 60_000);
    await waitForCheckpoints<CheckpointCounts>(cluster, jobId, (s) => s.counts.completed > 0, 60_000);
    const paused = await cluster.leader();
    const { token: pausedToken } = await paused.process.waitForLog((l) => l.msg === "granted leadership" && l.token !== undefined);
    paused.process.kill("SIGSTOP");
    try {
      // Another JobManager leads once the paused one's lease expired, and the job runs under it.
      const next = await cluster.leader(30_000);
      expect(next).not.toBe(paused);
      await cluster.waitForStatus(jobId, "RUNNING", 60_000);
    } finally {
      paused.process.kill("SIGCONT");
    }
    // Resumed, it finds its leadership gone and steps down.
    await paused.process.waitForLog((l) => typeof l.msg === "string" && l.msg.startsWith("leadership revoked") && l.token === pausedToken, 20_000);
    expect((await cluster.ha(paused)).role).toBe("standby");

    // A command carrying its token is refused by a TaskManager (which has seen the new leader's), and counted.
    const tm = cluster.taskmanagers[0]!;
    const { rpcPort } = await tm.waitForLog((l) => l.msg === "TaskManager started");
    const client = rpc.createClient<grpc.Client>("TaskExecutorService", `127.0.0.1:${rpcPort}`);
    try {
      const refused = rpc.unary<CancelTaskRequest, object>(client, "CancelTask", { jobId, executionId: "forged", fencingToken: pausedToken as string }, 5_000);
      await expect(refused).rejects.toThrow(/older than .* of the current JobManager leader/);
    } finally {
      client.close();
    }
    expect(metricValue(await cluster.metrics(tm), "riffle_taskmanager_fencing_rejections_total", { command: "CancelTask" })).toBeGreaterThanOrEqual(1);

    await cluster.waitForStatus(jobId, "FINISHED", 180_000);
    expect(committedLines(outDir)).toEqual(expected);
  }, 300_000);

  it("the CLI, given every JobManager, follows a leader change without being reconfigured", async () => {
    const jobId = (await cluster.rest<{ jobs: Array<{ jid: string }> }>("GET", "/jobs/overview")).body.jobs[0]!.jid;
    const all = cluster.jobmanagers.map((jm) => jm.restUrl).join(",");
    const list = async () => {
      const cli = new RiffleProcess("cli-list", ["list", "--jobmanager", all]);
      const { code } = await cli.exited;
      return { code, output: cli.output.join("\n"), stderr: cli.stderr.join("\n") };
    };
    const before = await list();
    expect(before.code, before.stderr).toBe(0);
    expect(before.output).toContain(jobId);
    // The leader dies; the CLI, started at once, waits for the next leader and asks it.
    const dead = await cluster.killLeader();
    const after = await list();
    expect(after.code, after.stderr).toBe(0);
    expect(after.output).toContain(jobId);
    await cluster.replace(dead);
  }, 120_000);
});
