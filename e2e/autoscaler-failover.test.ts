import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JobAutoscalerInfo } from "@riffle/shared/rest-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EtcdCluster, HaTestCluster } from "./harness/index.js";

/**
 * The autoscaler's record survives a leader change (kill -9 of the leading JobManager, on a real
 * etcd): the new leader's GET /jobs/:id/autoscaler shows the decisions the old one took, because the
 * autoscaler keeps its record (history, rescales of the last hour, blocked vertices) in the job's
 * record in etcd, and the new leader's autoscaler starts from it.
 */
describe("autoscaler across a leader change", () => {
  let work: string;
  let etcd: EtcdCluster;
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "riffle-as-failover-"));
    etcd = await EtcdCluster.start();
  });
  afterAll(async () => {
    await etcd?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("the new leader shows the old leader's decisions and goes on from them", async () => {
    const cluster = await HaTestCluster.startHa({
      etcd,
      jobmanagers: 2,
      taskmanagers: 1,
      taskmanager: { "taskmanager.slots": 2 },
      config: { "heartbeat.interval": "500ms" },
    });
    try {
      // Dry run: 120 records/s into Work at 20 ms a record (50/s per subtask) makes it recommend a scale-up.
      const settings = {
        "job.autoscaler.scaling.enabled": false,
        "job.autoscaler.interval": "1s",
        "job.autoscaler.metrics.window": "5s",
        "job.autoscaler.stabilization.interval": "2s",
        "job.autoscaler.catch-up.duration": "0s",
      };
      const jobId = await cluster.submit("e2e/jobs/traced-load.ts", {
        parallelism: 1,
        args: ["--out", join(work, "out"), "--trace", "600:120", "--cost-ms", "20", "--autoscaler", JSON.stringify(settings)],
      });
      await cluster.waitForStatus(jobId, "RUNNING", 60_000);
      const autoscaler = async () => (await cluster.rest<JobAutoscalerInfo>("GET", `/jobs/${jobId}/autoscaler`)).body;
      const deadline = Date.now() + 60_000;
      let before = await autoscaler();
      while (!before.history.some((e) => e.type === "recommended")) {
        if (Date.now() > deadline) throw new Error(`no recommendation within 60 s: ${JSON.stringify(before)}`);
        await new Promise((r) => setTimeout(r, 250));
        before = await autoscaler();
      }
      const recommendation = before.history.find((e) => e.type === "recommended")!;
      expect(recommendation.message).toMatch(/^dry run: would rescale Work/);

      const dead = await cluster.killLeader();
      const next = await cluster.leader(30_000);
      expect(next).not.toBe(dead);
      await cluster.waitForStatus(jobId, "RUNNING", 60_000);
      // Before the new leader's autoscaler looks at the job, the job's record already shows the decision.
      const first = await autoscaler();
      expect(first.history[0]).toEqual(recommendation);
      // Then its autoscaler (dry run: enabled), started from that record: the same event first, its time included.
      const until = Date.now() + 30_000;
      let after = first;
      while (!after.enabled) {
        if (Date.now() > until) throw new Error(`the new leader's autoscaler did not look at the job within 30 s: ${JSON.stringify(after)}`);
        await new Promise((r) => setTimeout(r, 250));
        after = await autoscaler();
      }
      expect(after.mode).toBe("dry-run");
      expect(after.history[0]).toEqual(recommendation);
      await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`);
      await cluster.waitForStatus(jobId, "CANCELED", 60_000);
    } finally {
      await cluster.stop();
    }
  }, 180_000);
});
