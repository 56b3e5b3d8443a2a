import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EtcdCluster, HaTestCluster, committedLines, waitForCheckpoints } from "./harness/index.js";

const RECORDS = 150_000;

interface CheckpointCounts {
  counts: { completed: number };
}

/**
 * Issue 10, faults of etcd itself: a 3-member etcd losing its raft leader, every member stopped for
 * longer than the lease, and two Riffle clusters sharing one etcd. Each exactly-once job's committed
 * output is compared with a failure-free run.
 */
describe("JobManager high availability: etcd faults", () => {
  let etcd: EtcdCluster;
  let cluster: HaTestCluster;
  let expected: string[];

  const jobConfig = (out: string, rate: number) => ({
    parallelism: 2,
    args: ["--out", out, "--count", String(RECORDS), "--rate", String(rate), "--backend", "leveldb"],
  });

  beforeAll(async () => {
    etcd = await EtcdCluster.start({ members: 3 });
    cluster = await HaTestCluster.startHa({
      etcd,
      jobmanagers: 2,
      taskmanagers: 2,
      config: { "heartbeat.interval": "500ms", "heartbeat.timeout": "3s" },
      taskmanager: { "taskmanager.slots": 2 },
    });
    const cleanDir = join(cluster.dir, "clean");
    const clean = await cluster.submit("e2e/jobs/exactly-once.ts", jobConfig(cleanDir, 0));
    await cluster.waitForStatus(clean, "FINISHED", 120_000);
    expected = committedLines(cleanDir);
    expect(expected.length).toBe(RECORDS);
  }, 240_000);

  afterAll(async () => {
    await cluster?.stop();
    await etcd?.close();
  });

  /** Submits the rate-limited job and waits until it runs with a checkpoint completed. */
  async function runningJob(name: string): Promise<{ jobId: string; dir: string }> {
    const dir = join(cluster.dir, name);
    const jobId = await cluster.submit("e2e/jobs/exactly-once.ts", jobConfig(dir, 10_000));
    await cluster.waitForStatus(jobId, "RUNNING", 60_000);
    await waitForCheckpoints<CheckpointCounts>(cluster, jobId, (s) => s.counts.completed > 0, 60_000);
    return { jobId, dir };
  }

  it("kill -9 of the etcd raft leader mid-job: the job finishes with exactly-once output", async () => {
    const { jobId, dir } = await runningJob("etcd-leader-killed");
    const raftLeader = await etcd.leader();
    await raftLeader.kill();
    // The two members left elect a raft leader and serve on; the dead one comes back and catches up.
    await etcd.leader(20_000);
    await raftLeader.start();
    await cluster.waitForStatus(jobId, "FINISHED", 180_000);
    expect(committedLines(dir)).toEqual(expected);
  }, 300_000);

  it("every etcd member stopped past the lease, then started: the leader steps down, a leader takes the job over, exactly-once output", async () => {
    const { jobId, dir } = await runningJob("etcd-down");
    const leader = await cluster.leader();
    const since = leader.process.logs.length;
    await Promise.all(etcd.members.map((m) => m.stop()));
    try {
      // Without etcd the leader cannot renew its lease: it stops leading within the TTL.
      await leader.process.waitForLog(
        (l) => typeof l.msg === "string" && l.msg.startsWith("leadership revoked") && leader.process.logs.indexOf(l) >= since,
        20_000,
      );
      const ha = await cluster.ha(leader);
      expect(ha.role).toBe("standby");
    } finally {
      await Promise.all(etcd.members.map((m) => m.start()));
    }
    await cluster.leader(60_000);
    await cluster.waitForStatus(jobId, "FINISHED", 180_000);
    expect(committedLines(dir)).toEqual(expected);
  }, 300_000);

  it("two clusters with different cluster ids on one etcd do not see each other's jobs", async () => {
    const other = await HaTestCluster.startHa({ etcd, jobmanagers: 1, taskmanagers: 1, taskmanager: { "taskmanager.slots": 2 } });
    try {
      const theirs = await other.submit("e2e/jobs/exactly-once.ts", jobConfig(join(other.dir, "out"), 0));
      await other.waitForStatus(theirs, "FINISHED", 120_000);
      type Overview = { jobs: Array<{ jid: string }> };
      const ours = (await cluster.rest<Overview>("GET", "/jobs/overview")).body.jobs.map((j) => j.jid);
      const seenByOther = (await other.rest<Overview>("GET", "/jobs/overview")).body.jobs.map((j) => j.jid);
      expect(ours).not.toContain(theirs);
      expect(seenByOther).toEqual([theirs]);
      expect((await other.ha(other.jobmanagers[0]!)).clusterId).toBe(other.clusterId);
      expect(other.clusterId).not.toBe(cluster.clusterId);
    } finally {
      await other.stop();
    }
  }, 240_000);
});
