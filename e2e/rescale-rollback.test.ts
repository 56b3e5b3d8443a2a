import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JobExceptions, OperationResult } from "@riffle/shared/rest-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestCluster, allRunning, committedLines, waitForCheckpoints } from "./harness/index.js";

/**
 * A rescale whose slots never come, on real processes: a standalone cluster of one TaskManager with
 * two slots, a job at parallelism 2 rescaled over REST to 4. The job stops with a savepoint, waits
 * `jobmanager.slot-request.timeout` for 4 slots, and goes back to its previous graph from that
 * savepoint (job-master.ts, rollBackRescale): RUNNING again at parallelism 2, without a restart, the
 * rescale operation failed with the reason, and the exactly-once output whole.
 */
const JOB = "e2e/jobs/savepoint-count.ts";
const KEYS = 20;

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "riffle-rescale-rollback-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** What a failure-free run commits: (k, 1), ..., (k, n_k) for every key k. */
function expectedLines(count: number): string[] {
  const lines: string[] = [];
  for (let k = 0; k < KEYS; k++) {
    const n = Math.floor(count / KEYS) + (k < count % KEYS ? 1 : 0);
    for (let i = 1; i <= n; i++) lines.push(JSON.stringify([k, i]));
  }
  return lines.sort();
}

describe("rescale rollback", () => {
  it("a REST rescale to more slots than the cluster has goes back to the previous parallelism from its savepoint; output stays exactly-once", async () => {
    // 15 s of source time at 1 000 records/s: the job is still running when the rescale gives up
    // (after the savepoint and the 3-s slot timeout), and then runs to its end.
    const COUNT = 15_000;
    const out = join(work, "out");
    const cluster = await TestCluster.start({
      taskmanagers: 1,
      config: {
        "taskmanager.slots": 2,
        "state.checkpoints.dir": join(work, "checkpoints"),
        "state.savepoints.dir": join(work, "savepoints"),
      },
      jobmanager: { "jobmanager.slot-request.timeout": "3s" },
    });
    try {
      const jobId = await cluster.submit(JOB, { parallelism: 2, args: ["--out", out, "--count", String(COUNT), "--rate", "1000", "--keys", String(KEYS)] });
      await cluster.waitForJob(jobId, allRunning);
      await waitForCheckpoints<{ counts: { completed: number } }>(cluster, jobId, (s) => s.counts.completed >= 1);

      const rescale = await cluster.rest<{ "request-id": string }>("POST", `/jobs/${jobId}/rescaling?parallelism=4`);
      expect(rescale.status).toBe(202);
      const operation = `/jobs/${jobId}/rescaling/${rescale.body["request-id"]}`;
      let result: OperationResult | undefined;
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        result = (await cluster.rest<OperationResult>("GET", operation)).body;
        if (result.status.id === "COMPLETED") break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(result?.status.id).toBe("COMPLETED");
      const cause = (result!.operation as { "failure-cause"?: { class: string; "stack-trace": string } })["failure-cause"];
      expect(cause?.class).toBe("NO_RESOURCE_AVAILABLE");
      expect(cause?.["stack-trace"]).toMatch(
        new RegExp(`job needs 4 slots but only 2 are free .*; job .* goes back to its previous parallelism from savepoint ${join(work, "savepoints")}/`),
      );

      // Running again at 2, from the savepoint, without counting as a restart.
      const job = await cluster.waitForJob(jobId, allRunning);
      expect(job.vertices.map((v) => v.parallelism)).toEqual([2, 2]);
      expect(job.numRestarts).toBe(0);
      const exceptions = (await cluster.rest<JobExceptions>("GET", `/jobs/${jobId}/exceptions`)).body;
      expect(exceptions.exceptionHistory.entries.map((e) => e.exceptionName)).toContain("NO_RESOURCE_AVAILABLE");
      const checkpoints = (await cluster.rest<{ latest: { restored: { external_path: string } | null } }>("GET", `/jobs/${jobId}/checkpoints`)).body;
      expect(checkpoints.latest.restored?.external_path.startsWith(join(work, "savepoints"))).toBe(true);
      const log = await cluster.jobmanager.waitForLog((l) => String(l.msg).includes("goes back to its previous parallelism"));
      expect((log.vertices as string[]).map((v) => v.replace(/.* \((\d+)\)$/, "$1"))).toEqual(["2", "2"]);
      // Part of the output was committed before the rescale (by its savepoint and the checkpoints
      // before), the rest is yet to come: the job goes on from the savepoint, mid-stream.
      const atRollback = committedLines(out).length;
      expect(atRollback).toBeGreaterThan(0);
      expect(atRollback).toBeLessThan(COUNT);

      const finished = await cluster.waitForStatus(jobId, "FINISHED", 60_000);
      expect(Object.keys(finished.timestamps).filter((s) => finished.timestamps[s as keyof typeof finished.timestamps] > 0)).toContain("RESCALING");
      expect(committedLines(out)).toEqual(expectedLines(COUNT));
    } finally {
      await cluster.stop();
    }
  }, 90_000);
});
