import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { RiffleError } from "@riffle/shared";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EtcdCluster } from "../../../../e2e/harness/etcd.js";
import { TEST_JOB_ID, testGraph } from "../../testing/fixtures.js";
import { etcdServices, haSettings, uniqueClusterId } from "../../testing/ha-fixtures.js";
import { RecordingContender } from "../../testing/recording-contender.js";
import type { JobRecord } from "../../store/index.js";
import type { LeaderInformation, LeaderSession } from "../index.js";
import type { EtcdHighAvailabilityServices } from "./etcd-high-availability-services.js";
import { MAX_INLINE_RECORD_BYTES } from "./etcd-job-store.js";

const OTHER_JOB = "fedcba9876543210fedcba9876543210";

function record(id: string, submittedAt: number, extra: Partial<JobRecord> = {}): JobRecord {
  return {
    id,
    name: "job",
    status: "RUNNING",
    bundleHash: "ab".repeat(32),
    args: ["--rate", "10"],
    graph: testGraph(),
    submittedAt,
    statusTimestamps: { CREATED: submittedAt },
    endTime: null,
    savepoint: { path: "/sp/savepoint-1", checkpointId: 4, allowNonRestoredState: false },
    ...extra,
  };
}

describe("HA stores on etcd", () => {
  let etcd: EtcdCluster;
  const open: Array<{ close(): Promise<void> }> = [];

  beforeAll(async () => {
    etcd = await EtcdCluster.start({ heartbeatMs: 50, electionMs: 500 });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });
  afterAll(() => etcd?.close());

  async function leader(
    settings: Record<string, string>,
    name = "leader",
  ): Promise<{ ha: EtcdHighAvailabilityServices; session: LeaderSession; contender: RecordingContender }> {
    const ha = await etcdServices(settings, name);
    open.push(ha);
    const contender = new RecordingContender(name);
    ha.leaderElection.start(contender);
    return { ha, contender, session: await contender.granted(1, 10_000) };
  }

  it("keeps job records, a large graph in the storage directory, and forgets them", async () => {
    const settings = haSettings(etcd, uniqueClusterId("jobs"));
    const { ha, session } = await leader(settings);
    const jobs = ha.stores(session).jobs;
    // With its autoscaler's record (history, rescale times, blocked vertices): a new leader reads it back whole.
    const autoscaler: JobRecord["autoscaler"] = {
      history: [
        {
          time: 1_500,
          type: "scaled",
          message: "rescaled Work 1 → 4 in 2 s",
          vertices: [{ vertexId: "v2", vertexName: "Work", from: 1, to: 4, reason: "scale up" }],
        },
      ],
      rescaleTimes: [1_400],
      counts: { rescales: 1, failures: 0, skipped: 0 },
      signature: "v1=1,v2=4",
      lastScalings: { v2: { at: 1_500, from: 1, to: 4, trueProcessingRateBefore: 50, expectedTrueProcessingRate: 200 } },
      ineffective: [],
    };
    const small = record(TEST_JOB_ID, 2_000, { autoscaler });
    const big = record(OTHER_JOB, 1_000, { graph: testGraph({ name: "x".repeat(MAX_INLINE_RECORD_BYTES) }) });
    await jobs.put(small);
    await jobs.put(big);
    expect(await jobs.get(TEST_JOB_ID)).toEqual(small);
    expect(await jobs.get(OTHER_JOB)).toEqual(big);
    expect((await jobs.list()).map((r) => r.id)).toEqual([OTHER_JOB, TEST_JOB_ID]); // oldest submission first
    const graphDir = join(settings["high-availability.storageDir"]!, ha.clusterId, "job-graphs", OTHER_JOB);
    expect(readdirSync(graphDir)).toHaveLength(1);

    // Writes of one job apply in the order they were made.
    await Promise.all(["RESTARTING", "RUNNING", "FINISHED"].map((status) => jobs.put({ ...small, status: status as JobRecord["status"] })));
    expect((await jobs.get(TEST_JOB_ID))?.status).toBe("FINISHED");

    // A new graph replaces the old file; removing the job removes its files.
    await jobs.put({ ...big, graph: testGraph({ name: "y".repeat(MAX_INLINE_RECORD_BYTES) }) });
    expect(readdirSync(graphDir)).toHaveLength(1);
    expect((await jobs.get(OTHER_JOB))?.graph.name[0]).toBe("y");
    await jobs.remove(OTHER_JOB);
    expect(await jobs.get(OTHER_JOB)).toBeUndefined();
    expect(existsSync(graphDir)).toBe(false);
    expect((await jobs.list()).map((r) => r.id)).toEqual([TEST_JOB_ID]);
  });

  it("hands out checkpoint ids that never repeat, and keeps the newest checkpoint pointers", async () => {
    const { ha, session } = await leader(haSettings(etcd, uniqueClusterId("checkpoints")));
    const stores = ha.stores(session);
    const counter = stores.checkpointIdCounter(TEST_JOB_ID);
    expect(await counter.get()).toBe(1);
    const ids = await Promise.all([1, 2, 3, 4].map(() => counter.getAndIncrement()));
    expect(ids).toEqual([1, 2, 3, 4]);
    await counter.setCount(10);
    expect(await counter.getAndIncrement()).toBe(10);
    expect(await stores.checkpointIdCounter(OTHER_JOB).get()).toBe(1);

    const completed = stores.completedCheckpoints(TEST_JOB_ID);
    const pointer = (id: number) => ({ id, path: `/chk/${TEST_JOB_ID}/chk-${id}`, timestamp: 1_000 + id });
    expect(await completed.add(pointer(1), 2)).toEqual([]);
    expect(await completed.add(pointer(2), 2)).toEqual([]);
    expect(await completed.add({ ...pointer(3), savepoint: true }, 2)).toEqual([pointer(1)]);
    expect(await completed.getAll()).toEqual([pointer(2), { ...pointer(3), savepoint: true }]);
    expect(await completed.getLatest()).toEqual({ ...pointer(3), savepoint: true });
    // Ids sort as numbers, not as strings.
    expect(await completed.add(pointer(10), 2)).toEqual([pointer(2)]);
    expect((await completed.getLatest())?.id).toBe(10);
    expect(await stores.completedCheckpoints(OTHER_JOB).getAll()).toEqual([]);

    await completed.discard();
    await counter.discard();
    expect(await completed.getAll()).toEqual([]);
    expect(await counter.get()).toBe(1);
  });

  it("records job results, dirty until their clean-up is done", async () => {
    const { ha, session } = await leader(haSettings(etcd, uniqueClusterId("results")));
    const results = ha.stores(session).jobResults;
    expect(await results.hasJobResultEntry(TEST_JOB_ID)).toBe(false);
    await results.createDirtyResult({ jobId: TEST_JOB_ID, status: "FINISHED", endTime: 5 });
    await results.createDirtyResult({ jobId: OTHER_JOB, status: "FAILED", endTime: 6, failure: { code: "TASK_FAILED", message: "boom" } });
    expect(await results.hasJobResultEntry(TEST_JOB_ID)).toBe(true);
    await results.markResultAsClean(TEST_JOB_ID);
    expect(await results.get(TEST_JOB_ID)).toEqual({ jobId: TEST_JOB_ID, status: "FINISHED", endTime: 5, clean: true });
    expect(await results.getDirtyResults()).toEqual([{ jobId: OTHER_JOB, status: "FAILED", endTime: 6, failure: { code: "TASK_FAILED", message: "boom" } }]);
    await expect(results.markResultAsClean("00000000000000000000000000000000")).rejects.toMatchObject({ code: "HA_STORAGE_FAILED" });
  });

  it("refuses every write once the leadership ended, without asking etcd", async () => {
    const { ha, session } = await leader(haSettings(etcd, uniqueClusterId("ended")));
    const stores = ha.stores(session);
    await stores.jobs.put(record(TEST_JOB_ID, 1));
    await ha.close();
    const writes = [
      stores.jobs.put(record(TEST_JOB_ID, 1)),
      stores.jobs.remove(TEST_JOB_ID),
      stores.jobResults.createDirtyResult({ jobId: TEST_JOB_ID, status: "CANCELED", endTime: 1 }),
      stores.checkpointIdCounter(TEST_JOB_ID).setCount(3),
      stores.completedCheckpoints(TEST_JOB_ID).add({ id: 1, path: "/x", timestamp: 1 }, 1),
      ha.leaderElection.confirmLeadership(session, { rpcAddress: "127.0.0.1:1", restAddress: "http://127.0.0.1:2" }),
    ];
    const outcomes = await Promise.allSettled(writes);
    expect(outcomes.map((o) => (o.status === "rejected" ? (o.reason as RiffleError).code : "written"))).toEqual(Array(writes.length).fill("LEADERSHIP_LOST"));
  });

  it("keeps two clusters on one etcd apart: each has its own leader and its own jobs", async () => {
    const one = await leader(haSettings(etcd, uniqueClusterId("one")), "one");
    const two = await leader(haSettings(etcd, uniqueClusterId("two")), "two");
    await one.ha.stores(one.session).jobs.put(record(TEST_JOB_ID, 1));
    await two.ha.stores(two.session).jobs.put(record(OTHER_JOB, 1));
    expect((await one.ha.stores(one.session).jobs.list()).map((r) => r.id)).toEqual([TEST_JOB_ID]);
    expect((await two.ha.stores(two.session).jobs.list()).map((r) => r.id)).toEqual([OTHER_JOB]);
    expect(await one.ha.leaderElection.candidates()).toEqual(["one"]);
    expect(await two.ha.leaderElection.candidates()).toEqual(["two"]);
    expect(one.ha.leaderElection.hasLeadership(one.session) && two.ha.leaderElection.hasLeadership(two.session)).toBe(true);
  });

  it("lets followers retrieve the leader: none until one confirms, the next one after a resignation", async () => {
    const settings = haSettings(etcd, uniqueClusterId("retrieval"));
    const follower = await etcdServices(settings, "follower-process");
    open.push(follower);
    const listener = new RecordingRetrievalListener();
    const retrieval = follower.createLeaderRetrievalService();
    open.push(retrieval);
    retrieval.start(listener);
    expect(await listener.notification(1)).toBeUndefined();

    const a = await leader(settings, "a");
    const address = { rpcAddress: "127.0.0.1:6123", restAddress: "http://127.0.0.1:8081" };
    const info = await a.ha.leaderElection.confirmLeadership(a.session, address);
    expect(info).toEqual({ leaderId: "a", token: a.session.token, ...address });
    expect(await listener.notification(2)).toEqual(info);
    expect(a.ha.leaderElection.confirmed).toEqual(info);

    const b = await etcdServices(settings, "b");
    open.push(b);
    const bContender = new RecordingContender("b");
    b.leaderElection.start(bContender);
    await a.ha.close(); // the leader information goes with the leader's lease
    expect(await listener.notification(3)).toBeUndefined();
    const bSession = await bContender.granted(1, 5_000);
    await b.leaderElection.confirmLeadership(bSession, { rpcAddress: "127.0.0.1:6124", restAddress: "http://127.0.0.1:8082" });
    expect(await listener.notification(4)).toMatchObject({ leaderId: "b", token: bSession.token, rpcAddress: "127.0.0.1:6124" });
  });
});

class RecordingRetrievalListener {
  readonly seen: Array<LeaderInformation | undefined> = [];
  private waiters: Array<() => void> = [];

  notifyLeaderAddress(leader: LeaderInformation | undefined): void {
    this.seen.push(leader);
    for (const w of this.waiters) w();
  }

  handleError(): void {}

  /** The n-th notification (1-based), waiting up to 5 s for it. */
  notification(n: number): Promise<LeaderInformation | undefined> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.seen.length < n) return false;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(this.seen[n - 1]);
        return true;
      };
      const waiter = () => void check();
      const timer = setTimeout(() => reject(new Error(`${this.seen.length} of ${n} leader notifications: ${JSON.stringify(this.seen)}`)), 5_000);
      if (!check()) this.waiters.push(waiter);
    });
  }
}
