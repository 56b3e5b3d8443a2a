import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type RiffleError } from "@riffle/shared";
import { afterAll, describe, expect, it } from "vitest";
import { TEST_JOB_ID, silentLogger, testGraph } from "../../testing/fixtures.js";
import { RecordingContender } from "../../testing/recording-contender.js";
import type { JobRecord } from "../../store/index.js";
import { createHighAvailabilityServices, type HighAvailabilityServices, type LeaderInformation } from "../index.js";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "riffle-none-"));
  dirs.push(dir);
  return dir;
}

function config(dir: string) {
  return loadConfig({ env: {}, overrides: { "jobmanager.storage.dir": dir, "jobmanager.rpc.port": 6200, "rest.port": 8200 } });
}

async function start(dir: string): Promise<{ ha: HighAvailabilityServices; contender: RecordingContender }> {
  const ha = await createHighAvailabilityServices(config(dir), { leaderId: "jm", logger: silentLogger });
  const contender = new RecordingContender("jm");
  ha.leaderElection.start(contender);
  return { ha, contender };
}

const record: JobRecord = {
  id: TEST_JOB_ID,
  name: "job",
  status: "RUNNING",
  bundleHash: "cd".repeat(32),
  args: [],
  graph: testGraph(),
  submittedAt: 1,
  statusTimestamps: { CREATED: 1 },
  endTime: null,
};

describe("high availability none", () => {
  it("leads from the start, under a token newer than the previous JobManager's on the same storage", async () => {
    const dir = tempDir();
    const first = await start(dir);
    expect(first.ha.type).toBe("none");
    const s1 = first.contender.grants[0]!.session;
    expect(first.ha.leaderElection.hasLeadership(s1)).toBe(true);
    await first.ha.close();
    expect(first.contender.revocations).toMatchObject([{ reason: "RESIGNED" }]);

    const second = await start(dir);
    const s2 = second.contender.grants[0]!.session;
    expect(s2.token > s1.token).toBe(true);
    expect(await second.ha.leaderElection.candidates()).toEqual(["jm"]);
    await second.ha.close();
  });

  it("keeps job records as today's files in jobmanager.storage.dir/jobs", async () => {
    const dir = tempDir();
    const { ha, contender } = await start(dir);
    const jobs = ha.stores(contender.grants[0]!.session).jobs;
    await jobs.put(record);
    expect(JSON.parse(readFileSync(join(dir, "jobs", `${TEST_JOB_ID}.json`), "utf8"))).toEqual(record);
    expect(await jobs.get(TEST_JOB_ID)).toEqual(record);
    expect(await jobs.list()).toEqual([record]);
    writeFileSync(join(dir, "jobs", "fedcba9876543210fedcba9876543210.json"), "{broken");
    expect(await jobs.list()).toEqual([record]);
    await jobs.remove(TEST_JOB_ID);
    expect(existsSync(join(dir, "jobs", `${TEST_JOB_ID}.json`))).toBe(false);
    expect(await jobs.get(TEST_JOB_ID)).toBeUndefined();
    await ha.close();
  });

  it("keeps checkpoint ids, pointers and results in memory, and refuses writes once closed", async () => {
    const { ha, contender } = await start(tempDir());
    const stores = ha.stores(contender.grants[0]!.session);
    const counter = stores.checkpointIdCounter(TEST_JOB_ID);
    expect([await counter.getAndIncrement(), await counter.getAndIncrement()]).toEqual([1, 2]);
    await counter.setCount(8);
    expect(await stores.checkpointIdCounter(TEST_JOB_ID).get()).toBe(8);
    const completed = stores.completedCheckpoints(TEST_JOB_ID);
    await completed.add({ id: 1, path: "/c/chk-1", timestamp: 1 }, 1);
    expect(await completed.add({ id: 2, path: "/c/chk-2", timestamp: 2 }, 1)).toEqual([{ id: 1, path: "/c/chk-1", timestamp: 1 }]);
    expect(await completed.getLatest()).toEqual({ id: 2, path: "/c/chk-2", timestamp: 2 });
    await stores.jobResults.createDirtyResult({ jobId: TEST_JOB_ID, status: "FINISHED", endTime: 3 });
    expect(await stores.jobResults.getDirtyResults()).toEqual([{ jobId: TEST_JOB_ID, status: "FINISHED", endTime: 3 }]);
    await stores.jobResults.markResultAsClean(TEST_JOB_ID);
    expect(await stores.jobResults.getDirtyResults()).toEqual([]);

    await ha.close();
    const outcomes = await Promise.allSettled([
      counter.getAndIncrement(),
      completed.add({ id: 3, path: "/c/chk-3", timestamp: 3 }, 1),
      stores.jobs.put(record),
    ]);
    expect(outcomes.map((o) => (o.status === "rejected" ? (o.reason as RiffleError).code : "written"))).toEqual([
      "LEADERSHIP_LOST",
      "LEADERSHIP_LOST",
      "LEADERSHIP_LOST",
    ]);
  });

  it("retrieves the configured JobManager as the leader", async () => {
    const { ha } = await start(tempDir());
    const seen: Array<LeaderInformation | undefined> = [];
    const retrieval = ha.createLeaderRetrievalService();
    retrieval.start({ notifyLeaderAddress: (l) => seen.push(l), handleError: () => {} });
    expect(seen).toEqual([{ leaderId: "jm", token: null, rpcAddress: "127.0.0.1:6200", restAddress: "http://127.0.0.1:8200" }]);
    await retrieval.close();
    await ha.close();
  });

  it("refuses a jobmanager.storage.dir it cannot write", async () => {
    const file = join(tempDir(), "a-file");
    writeFileSync(file, "");
    await expect(createHighAvailabilityServices(config(join(file, "sub")), { leaderId: "jm", logger: silentLogger })).rejects.toMatchObject({
      code: "HA_STORAGE_FAILED",
      message: expect.stringContaining("check that jobmanager.storage.dir is writable"),
    });
  });
});
