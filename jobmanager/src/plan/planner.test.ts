import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, RiffleError, type JobGraph } from "@riffle/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BundleStore } from "../store/index.js";
import { WorkerPlanner } from "./planner.js";

const logger = createLogger("test");
logger.level = "silent";

const buildOptions = { name: "test", defaultParallelism: 1, defaultMaxParallelism: 128, defaultBufferTimeoutMs: 100 };

describe("WorkerPlanner", () => {
  let dir: string;
  let bundles: BundleStore;
  let planner: WorkerPlanner;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "riffle-plan-test-"));
    bundles = new BundleStore(dir);
    planner = new WorkerPlanner({ logger });
  });
  afterAll(async () => {
    await planner.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function plan(source: string, options: { timeoutMs?: number; parallelism?: number; args?: string[]; parallelismOverride?: number } = {}): Promise<JobGraph> {
    const hash = bundles.put(Buffer.from(source));
    return planner.plan({
      bundlePath: bundles.path(hash),
      args: options.args ?? [],
      buildOptions: { ...buildOptions, parallelism: options.parallelism },
      parallelismOverride: options.parallelismOverride,
      timeoutMs: options.timeoutMs ?? 10_000,
    });
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

  it("reports a module whose top-level await never settles at once, not after the timeout", async () => {
    const started = Date.now();
    const err = await planError(`await new Promise(() => {}); export default function(env) {}`, { timeoutMs: 60_000 });
    expect(err.code).toBe("JOB_PLAN_TIMEOUT");
    expect(err.message).toContain("never settles");
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it("reports a job that calls process.exit while planning", async () => {
    const err = await planError(`export default function(env) { process.exit(4); }`);
    expect(err.code).toBe("JOB_PLAN_FAILED");
    expect(err.message).toContain("exited (code 4)");
  });
});

describe("WorkerPlanner's workers", () => {
  let dir: string;
  let bundles: BundleStore;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "riffle-plan-reuse-"));
    bundles = new BundleStore(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const job = (n: number) =>
    `import { CollectSink } from "@riffle/sdk";
     export default function(env) { globalThis.planned = (globalThis.planned ?? 0) + 1; env.fromElements(${n}).map((x) => x).name("m" + globalThis.planned).sinkTo(new CollectSink()); }`;
  const request = (source: string, timeoutMs = 10_000) => ({
    bundlePath: bundles.path(bundles.put(Buffer.from(source))),
    args: [],
    buildOptions,
    timeoutMs,
  });

  it("serves plans that answer from one worker, up to maxPlansPerWorker, and never reuses one that failed", async () => {
    const planner = new WorkerPlanner({ logger, maxPlansPerWorker: 3 });
    try {
      // Three plans in one worker (the job's global counter shows it), a fourth in a new one.
      const names = [];
      for (let n = 0; n < 4; n++) names.push((await planner.plan(request(job(n)))).vertices.at(-1)!.name);
      expect(names).toEqual([
        "Collection Source -> m1 -> Sink",
        "Collection Source -> m2 -> Sink",
        "Collection Source -> m3 -> Sink",
        "Collection Source -> m1 -> Sink",
      ]);
      expect(planner.workersStarted).toBe(2);
      // A job error is an answer: the worker stays.
      await expect(planner.plan(request(`export default function(env) { throw new Error("bad"); }`))).rejects.toThrow("bad");
      expect(planner.workersStarted).toBe(2);
      // A timed-out plan's worker is stopped; the next plan gets a fresh one.
      await expect(planner.plan(request(`export default function(env) { while (true) {} }`, 300))).rejects.toThrow(/within 300 ms/);
      expect((await planner.plan(request(job(9)))).vertices.at(-1)!.name).toBe("Collection Source -> m1 -> Sink");
      expect(planner.workersStarted).toBe(3);
    } finally {
      await planner.close();
    }
  });

  it("plans concurrently in as many workers as there are plans in progress", async () => {
    const planner = new WorkerPlanner({ logger });
    try {
      const graphs = await Promise.all([0, 1, 2].map((n) => planner.plan(request(job(n)))));
      expect(graphs).toHaveLength(3);
      expect(planner.workersStarted).toBe(3);
      // One of them was kept: the next plan starts no worker.
      await planner.plan(request(job(3)));
      expect(planner.workersStarted).toBe(3);
    } finally {
      await planner.close();
    }
  });
});
