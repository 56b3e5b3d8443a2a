import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RiffleProcess, setFlags } from "./harness/index.js";

/** The cluster's job.autoscaler.* settings are checked when the JobManager process starts. */
describe("cluster autoscaler settings", () => {
  const work = mkdtempSync(join(tmpdir(), "riffle-as-settings-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("refuses min-parallelism above max-parallelism at start: a clear error and exit code 1", async () => {
    const jm = new RiffleProcess("jobmanager", [
      "jobmanager",
      ...setFlags({
        "rest.port": 0,
        "jobmanager.rpc.port": 0,
        "jobmanager.storage.dir": join(work, "jm"),
        "job.autoscaler.vertex.min-parallelism": 8,
        "job.autoscaler.vertex.max-parallelism": 4,
      }),
    ]);
    const exit = await jm.waitForExit(20_000);
    expect(exit.code).toBe(1);
    const stderr = jm.stderr.join("\n");
    expect(stderr).toMatch(/CONFIG_INVALID/);
    expect(stderr).toMatch(/job.autoscaler.vertex.min-parallelism \(8\) above job.autoscaler.vertex.max-parallelism \(4\); lower the one or raise the other/);
  }, 30_000);
});
