import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, loadConfig } from "@riffle/shared";
import type { JobVertexBackPressure } from "@riffle/shared/rest-api";
import { describe, expect, it } from "vitest";
import { JobManager } from "../index.js";

const logger = createLogger("test");
logger.level = "silent";

const JOB = `import { CollectSink } from "@riffle/sdk";
export default function(env) { env.setParallelism(2); env.fromElements(1, 2, 3).rebalance().map((x) => x * 2).sinkTo(new CollectSink()); }`;

/**
 * GET /jobs/:id/vertices/:vid/backpressure before any subtask measured anything (here: a job waiting
 * for slots, as after a redeploy before the new executions' first heartbeat): Flink's "deprecated"
 * status without a level, not an "ok" nobody measured.
 */
describe("back-pressure of a vertex not measured yet", () => {
  it("reads status deprecated, no level and no subtasks", async () => {
    const dir = mkdtempSync(join(tmpdir(), "riffle-rest-bp-"));
    const jm = await JobManager.create(
      loadConfig({
        env: {},
        overrides: { "rest.port": 0, "jobmanager.rpc.port": 0, "jobmanager.storage.dir": dir, "jobmanager.slot-request.timeout": "60s" },
      }),
      logger,
    );
    try {
      const url = `http://127.0.0.1:${jm.restPort}`;
      const submitted = await fetch(`${url}/jobs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ bundle: Buffer.from(JOB).toString("base64") }),
      });
      expect(submitted.status).toBe(202);
      const { jobid: jobId } = (await submitted.json()) as { jobid: string };
      const { vertices } = (await (await fetch(`${url}/jobs/${jobId}`)).json()) as { vertices: Array<{ id: string }> };
      expect(vertices.length).toBeGreaterThan(1);
      for (const v of vertices) {
        const res = await fetch(`${url}/jobs/${jobId}/vertices/${v.id}/backpressure`);
        expect(res.status).toBe(200);
        const bp = (await res.json()) as JobVertexBackPressure;
        expect(bp).toEqual({ status: "deprecated", subtasks: [] });
      }
      expect((await fetch(`${url}/jobs/${jobId}?mode=cancel`, { method: "PATCH" })).status).toBe(202);
    } finally {
      await jm.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
