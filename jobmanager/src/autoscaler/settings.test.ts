import { type JobGraph, loadConfig } from "@riffle/shared";
import { describe, expect, it } from "vitest";
import { checkAutoscalerSettings, resolveAutoscalerSettings } from "./settings.js";

const cluster = (overrides: Record<string, unknown> = {}) => loadConfig({ env: {}, file: "/dev/null", overrides });
const graph = (autoscaler: JobGraph["autoscaler"], checkpointing = true): JobGraph => ({
  name: "g",
  maxParallelism: 128,
  bufferTimeoutMs: 100,
  functionCount: 0,
  vertices: [],
  edges: [],
  ...(checkpointing ? { checkpointing: { intervalMs: 1000 } } : {}),
  ...(autoscaler ? { autoscaler } : {}),
});

function codeAndMessage(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    const e = err as { code: string; message: string };
    return `${e.code}: ${e.message}`;
  }
  return "no error";
}

describe("autoscaler settings", () => {
  it("takes the cluster's job.autoscaler.* keys, overridden by the job's own", () => {
    const s = resolveAutoscalerSettings(cluster({ "job.autoscaler.target.utilization": 0.5 }), graph({ "job.autoscaler.interval": "2s" }));
    expect(s).toMatchObject({ enabled: false, targetUtilization: 0.5, intervalMs: 2000, scalingEnabled: true, maxRescalesPerHour: 6 });
    expect(resolveAutoscalerSettings(cluster(), graph({ "job.autoscaler.enabled": true, "job.autoscaler.scaling.enabled": "false" }))).toMatchObject({
      enabled: true,
      scalingEnabled: false,
    });
  });

  it("refuses what cannot work, naming the key and what to do", () => {
    expect(codeAndMessage(() => resolveAutoscalerSettings(cluster(), graph({ "job.autoscaler.nope": 1 })))).toMatch(
      /^CONFIG_INVALID: the job sets "job.autoscaler.nope", which is no autoscaler setting/,
    );
    expect(codeAndMessage(() => resolveAutoscalerSettings(cluster(), graph({ "job.autoscaler.target.utilization": 2 })))).toMatch(
      /^CONFIG_INVALID: the job sets job.autoscaler.target.utilization to 2: /,
    );
    expect(
      codeAndMessage(() =>
        resolveAutoscalerSettings(
          cluster({ "job.autoscaler.vertex.min-parallelism": 8, "job.autoscaler.vertex.max-parallelism": 4 }),
          graph({ "job.autoscaler.enabled": true }),
        ),
      ),
    ).toBe("CONFIG_INVALID: job.autoscaler.vertex.min-parallelism (8) is above job.autoscaler.vertex.max-parallelism (4); lower the one or raise the other");
    expect(codeAndMessage(() => checkAutoscalerSettings(cluster(), graph({ "job.autoscaler.enabled": true }, false)))).toMatch(
      /^JOB_INVALID_GRAPH: the job enables autoscaling but not checkpointing: .* call env.enableCheckpointing\(ms\) too$/,
    );
    // The cluster's own switch does not refuse jobs without checkpoints: the autoscaler leaves them alone.
    expect(checkAutoscalerSettings(cluster({ "job.autoscaler.enabled": true }), graph(undefined, false)).enabled).toBe(true);
  });
});
