import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, RiffleError, type JobGraph } from "@riffle/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BundleStore } from "../store/index.js";
import { planInWorker } from "./planner.js";

const logger = createLogger("test");
logger.level = "silent";

const buildOptions = { name: "test", defaultParallelism: 1, defaultMaxParallelism: 128, defaultBufferTimeoutMs: 100 };

describe("planInWorker", () => {
  let dir: string;
  let bundles: BundleStore;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "riffle-plan-test-"));
    bundles = new BundleStore(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function plan(source: string, options: { timeoutMs?: number; parallelism?: number; args?: string[]; parallelismOverride?: number } = {}): Promise<JobGraph> {
    const hash = bundles.put(Buffer.from(source));
    return planInWorker(
      {
        bundlePath: bundles.path(hash),
        args: options.args ?? [],
        buildOptions: { ...buildOptions, parallelism: options.parallelism },
        parallelismOverride: options.parallelismOverride,
        timeoutMs: options.timeoutMs ?? 10_000,
      },
      logger,
    );
  }

  async function planError(source: string, options: { timeoutMs?: number; parallelism?: number; parallelismOverride?: number } = {}): Promise<RiffleError> {
    const err = await plan(source, options).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RiffleError);
    return err as RiffleError;
  }

  it("builds the graph of a valid job that imports the SDK", async () => {
    const graph = await plan(
      `import { CollectSink } from "@riffle/sdk";
       export default function(env) { env.fromElements(1, 2, 3).map((x) => x * 2).sinkTo(new CollectSink()); }`,
      { parallelism: 2 },
    );
    expect(graph.name).toBe("test");
    expect(graph.vertices.map((v) => [v.name, v.parallelism])).toEqual([
      ["Collection Source", 1],
      ["Map -> Sink", 2],
    ]);
    expect(graph.edges).toEqual([{ id: "e1", source: "v1", target: "v2", partitioner: "rebalance" }]);
  });

  it("lets a rescale's parallelism win over env.setParallelism, but not over an operator's own or a source's limit", async () => {
    const job = `import { CollectSink } from "@riffle/sdk";
       export default function(env) {
         env.setParallelism(2);
         env.fromElements(1, 2, 3).map((x) => x).name("Wide").rebalance().map((x) => x).name("Fixed").setParallelism(4).sinkTo(new CollectSink());
       }`;
    const parallelisms = (g: JobGraph) => g.vertices.map((v) => [v.name, v.parallelism]);
    expect(parallelisms(await plan(job, { parallelism: 3 }))).toEqual([
      ["Collection Source", 1],
      ["Wide", 2],
      ["Fixed", 4],
      ["Sink", 2],
    ]);
    expect(parallelisms(await plan(job, { parallelism: 3, parallelismOverride: 3 }))).toEqual([
      ["Collection Source", 1],
      ["Wide", 3],
      ["Fixed", 4],
      ["Sink", 3],
    ]);
    expect((await planError(`export const x = 1;`, { parallelismOverride: 3 })).code).toBe("JOB_NO_DEFAULT_EXPORT");
  });

  it("passes the job arguments", async () => {
    const graph = await plan(`export default function(env) { env.setJobName(env.param("name")); env.fromElements(1).collect(); }`, {
      args: ["--name", "hello"],
    });
    expect(graph.name).toBe("hello");
  });

  it("reports a job function that throws as JOB_PLAN_FAILED", async () => {
    const err = await planError(`export default function(env) { throw new Error("no input configured"); }`);
    expect(err.code).toBe("JOB_PLAN_FAILED");
    expect(err.message).toContain("no input configured");
  });

  it("reports a module without default export as JOB_NO_DEFAULT_EXPORT", async () => {
    expect((await planError(`export function job(env) {}`)).code).toBe("JOB_NO_DEFAULT_EXPORT");
  });

  it("stops a job that never finishes planning with JOB_PLAN_TIMEOUT", async () => {
    const err = await planError(`export default function(env) { while (true) {} }`, { timeoutMs: 300 });
    expect(err.code).toBe("JOB_PLAN_TIMEOUT");
    expect(err.message).toBe(
      "the job did not finish building its pipeline within 300 ms (jobmanager.plan.timeout); does its default export loop or wait forever?",
    );
  });

  it("refuses parallelism above max parallelism with PARALLELISM_ABOVE_MAX", async () => {
    const err = await planError(`export default function(env) { env.setMaxParallelism(4); env.fromElements(1).map((x) => x).setParallelism(8).collect(); }`);
    expect(err.code).toBe("PARALLELISM_ABOVE_MAX");
  });

  it("refuses a cyclic dataflow with JOB_GRAPH_CYCLE", async () => {
    const err = await planError(
      `export default function(env) { const it = env.fromElements(1).map((x) => x).iterate(); it.closeWith(it.map((x) => x)); it.collect(); }`,
    );
    expect(err.code).toBe("JOB_GRAPH_CYCLE");
  });

  it("reports a bundle that does not load as BUNDLE_INVALID", async () => {
    const err = await planError(`export default function(env) { env.fromElements(1 2 3); }`);
    expect(err.code).toBe("BUNDLE_INVALID");
    expect(err.message).toMatch(/^the job bundle could not be loaded: /);
  });
});
