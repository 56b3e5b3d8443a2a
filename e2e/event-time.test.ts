import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TestCluster } from "./harness/index.js";

describe("event time on real processes", () => {
  it("a watermark that fires 1M windows does not stall the TaskManager: heartbeats go on and every window is written", async () => {
    const KEYS = 1_000_000;
    // Heartbeats every 200 ms, lost after 3 s: a TaskManager whose event loop a window fire blocks
    // for longer is declared lost and the job (without checkpoints) fails.
    const cluster = await TestCluster.start({ taskmanagers: 1, config: { "heartbeat.interval": "200ms", "heartbeat.timeout": "3s" } });
    try {
      const out = join(cluster.dir, "windows");
      const jobId = await cluster.submit("e2e/jobs/many-windows.ts", { parallelism: 1, args: ["--out", out, "--count", String(KEYS)] });
      const job = await cluster.waitForStatus(jobId, "FINISHED", 120_000);
      expect(job.numRestarts ?? 0).toBe(0);
      let lines = 0;
      for (const f of readdirSync(out)) lines += readFileSync(join(out, f), "utf8").split("\n").filter(Boolean).length;
      expect(lines).toBe(KEYS);
    } finally {
      await cluster.stop();
    }
  }, 180_000);
});
