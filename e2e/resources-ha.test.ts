import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { isAlive } from "@riffle/shared";
import type { TaskManagersInfo } from "@riffle/shared/rest-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EtcdCluster, HaTestCluster, type HaJobManager, allRunning, committedLines, pollUntil, metricValue, waitForCheckpoints } from "./harness/index.js";

const RECORDS = 60_000;

interface CheckpointCounts {
  counts: { completed: number };
}

/**
 * High availability with the `process` provider on real processes: the leader's resource manager
 * starts the TaskManagers a job needs; the leader is killed; the standby that takes over finds the
 * TaskManagers in the cluster's shared storage and adopts them, they follow it (they were given every
 * JobManager's address) and register again, and the job runs on them to an exactly-once end,
 * without a single new TaskManager started.
 */
describe("resource manager with the process provider and high availability", () => {
  let etcd: EtcdCluster;
  let cluster: HaTestCluster;
  const pids: number[] = [];

  beforeAll(async () => {
    etcd = await EtcdCluster.start();
    cluster = await HaTestCluster.startHa({
      etcd,
      jobmanagers: 2,
      taskmanagers: 0,
      jobmanagersKnowEachOther: true,
      config: { "heartbeat.interval": "500ms", "heartbeat.timeout": "3s", "taskmanager.slots": 2 },
      jobmanager: { "resourcemanager.provider": "process", "resourcemanager.taskmanagers.max": 4 },
    });
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
    await etcd?.close();
    for (const pid of pids) if (isAlive(pid)) process.kill(pid, "SIGKILL");
  });

  async function taskmanagers(): Promise<TaskManagersInfo["taskmanagers"]> {
    const res = await cluster.rest<TaskManagersInfo>("GET", "/taskmanagers");
    return res.status === 200 ? res.body.taskmanagers : [];
  }

  async function metric(jm: HaJobManager, name: string): Promise<number | undefined> {
    const res = await fetch(`${jm.restUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
    return metricValue(await res.text(), name, { provider: "process" });
  }

  it("kill -9 of the leader: the standby adopts the provided TaskManagers, they register with it, and the job finishes on them", async () => {
    const out = join(cluster.dir, "out");
    const jobId = await cluster.submit("e2e/jobs/exactly-once.ts", {
      parallelism: 4,
      args: ["--out", out, "--count", String(RECORDS), "--rate", "3000", "--backend", "leveldb"],
    });
    // Four slots of two: the leader's provider starts two TaskManagers.
    await pollUntil("the job running on 4 slots", () => cluster.job(jobId), allRunning, 60_000);
    const before = await taskmanagers();
    expect(before).toHaveLength(2);
    pids.push(...before.map((t) => t.pid));
    const first = await cluster.leader();
    expect(await metric(first, "riffle_resourcemanager_taskmanagers_started")).toBe(2);
    // Recorded where every JobManager of the cluster looks: the HA storage, not the leader's own directory.
    const records = join(cluster.dir, "ha", cluster.clusterId, "taskmanagers");
    expect(
      readdirSync(records)
        .filter((n) => n.endsWith(".json"))
        .sort(),
    ).toEqual(before.map((t) => `${t.id}.json`).sort());
    await waitForCheckpoints<CheckpointCounts>(cluster, jobId, (s) => s.counts.completed > 0, 60_000);

    const dead = await cluster.killLeader();
    const next = await cluster.leader(30_000);
    expect(next).not.toBe(dead);
    await next.process.waitForLog((l) => String(l.msg).includes("adopted 2 TaskManager(s)"), 30_000);
    // The same processes register again with the new leader, and the job runs on them.
    const after = await pollUntil(
      "the adopted TaskManagers registered with the new leader",
      taskmanagers,
      (t) => t.length === 2 && before.every((b) => t.some((a) => a.id === b.id && a.pid === b.pid)),
      60_000,
    );
    expect(after.map((t) => t.id).sort()).toEqual(before.map((t) => t.id).sort());
    const job = await cluster.waitForStatus(jobId, "FINISHED", 120_000);
    expect(job.state).toBe("FINISHED");
    // Nothing new was started for the same slots, and none of the adopted counted as a failed start.
    expect(await metric(next, "riffle_resourcemanager_taskmanagers_started")).toBe(0);
    expect(await metric(next, "riffle_resourcemanager_start_failures")).toBe(0);
    expect(await metric(next, "riffle_resourcemanager_registration_timeouts")).toBe(0);
    expect((await taskmanagers()).map((t) => t.pid).sort()).toEqual(before.map((t) => t.pid).sort());
    // Exactly once through the failover: every (key, count) once, none missing.
    const lines = committedLines(out);
    expect(lines).toHaveLength(RECORDS);
    expect(new Set(lines).size).toBe(RECORDS);
    expect(existsSync(records)).toBe(true);
  }, 300_000);
});
