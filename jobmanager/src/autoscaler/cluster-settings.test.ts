import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type JobGraph, createLogger, loadConfig } from "@riffle/shared";
import { describe, expect, it } from "vitest";
import { JobManager } from "../index.js";
import { checkAutoscalerSettings, checkClusterAutoscalerSettings, resolveAutoscalerSettings } from "./settings.js";

const logger = createLogger("test");
logger.level = "silent";

const MIN_ABOVE_MAX = { "job.autoscaler.vertex.min-parallelism": 8, "job.autoscaler.vertex.max-parallelism": 4 };
const cluster = (overrides: Record<string, unknown> = {}) => loadConfig({ env: {}, file: "/dev/null", overrides });
const graph = (autoscaler?: JobGraph["autoscaler"]): JobGraph => ({
  name: "g",
  maxParallelism: 128,
  bufferTimeoutMs: 100,
  functionCount: 0,
  vertices: [],
  edges: [],
  checkpointing: { intervalMs: 1000 },
  ...(autoscaler ? { autoscaler } : {}),
});

/**
 * The cluster's job.autoscaler.* settings are every job's defaults: min above max is refused when the
 * JobManager starts, not at each submission, and never refuses a job that does not autoscale.
 */
describe("the cluster's autoscaler settings", () => {
  it("are checked when the JobManager starts: min-parallelism above max-parallelism is CONFIG_INVALID, before anything binds", async () => {
    expect(() => checkClusterAutoscalerSettings(cluster(MIN_ABOVE_MAX))).toThrow(
      "the cluster configuration sets job.autoscaler.vertex.min-parallelism (8) above job.autoscaler.vertex.max-parallelism (4); lower the one or raise the other",
    );
    expect(() => checkClusterAutoscalerSettings(cluster())).not.toThrow();
    const dir = mkdtempSync(join(tmpdir(), "riffle-as-settings-"));
    try {
      const config = loadConfig({ env: {}, overrides: { "rest.port": 0, "jobmanager.rpc.port": 0, "jobmanager.storage.dir": dir, ...MIN_ABOVE_MAX } });
      await expect(JobManager.create(config, logger)).rejects.toMatchObject({
        code: "CONFIG_INVALID",
        message: expect.stringMatching(/min-parallelism \(8\)/),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("do not refuse a job that does not autoscale; one that does is refused, naming the keys", () => {
    const bad = cluster(MIN_ABOVE_MAX);
    expect(checkAutoscalerSettings(bad, graph()).enabled).toBe(false);
    expect(resolveAutoscalerSettings(bad, graph({ "job.autoscaler.target.utilization": 0.5 })).enabled).toBe(false);
    expect(() => checkAutoscalerSettings(bad, graph({ "job.autoscaler.enabled": true }))).toThrow(
      /min-parallelism \(8\) is above job.autoscaler.vertex.max-parallelism \(4\)/,
    );
    // A job's own contradictory settings are its own: refused when it autoscales.
    expect(() => checkAutoscalerSettings(cluster(), graph({ "job.autoscaler.enabled": true, "job.autoscaler.vertex.min-parallelism": 300 }))).toThrow(
      /min-parallelism \(300\) is above/,
    );
  });
});
