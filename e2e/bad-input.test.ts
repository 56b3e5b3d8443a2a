import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "@riffle/shared";
import { bundleJob } from "@riffle/cli";
import { RiffleProcess, TestCluster } from "./harness/index.js";

/** Bad input gets a clear error with a stable code, and the cluster keeps serving other jobs. */
describe("bad input against a running cluster", () => {
  let cluster: TestCluster;
  let longRunning: string;
  beforeAll(async () => {
    // The default plan timeout (10 s): a shorter one refused valid jobs while a loaded machine planned them.
    cluster = await TestCluster.start({
      taskmanagers: 2,
      jobmanager: { "jobmanager.slot-request.timeout": "2s" },
    });
    // A job that keeps running through all the bad input below.
    longRunning = await cluster.submit("e2e/jobs/unbounded.ts", { parallelism: 1, args: ["--rate", "200"] });
    await cluster.waitForStatus(longRunning, "RUNNING");
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const refused = async (job: string, code: string, message: RegExp) => {
    const bundle = Buffer.from(await bundleJob(job)).toString("base64");
    const res = await cluster.rest<{ code: string; message: string }>("POST", "/jobs", { bundle });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(code);
    expect(res.body.message).toMatch(message);
  };

  it("refuses job modules that cannot be planned, each with its code", async () => {
    await refused("e2e/jobs/throws.ts", "JOB_PLAN_FAILED", /the job's author made a mistake/);
    await refused("e2e/jobs/never-returns.ts", "JOB_PLAN_TIMEOUT", /within 10000 ms/);
    await refused("e2e/jobs/never-settles.ts", "JOB_PLAN_TIMEOUT", /never settles/);
    await refused("e2e/jobs/no-default-export.ts", "JOB_NO_DEFAULT_EXPORT", /export default function/);
    await refused("e2e/jobs/cycle.ts", "JOB_GRAPH_CYCLE", /cycle/);
    await refused("e2e/jobs/too-parallel.ts", "PARALLELISM_ABOVE_MAX", /parallelism 8, above the job's max parallelism 4/);
    await refused("e2e/jobs/no-sink.ts", "JOB_INVALID_GRAPH", /the job has no sink/);
  });

  it("keeps nothing of a refused submission on disk", async () => {
    const bundles = join(cluster.dir, "jobmanager", "bundles");
    const stored = () => readdirSync(bundles).filter((f) => f.endsWith(".mjs") || f.endsWith(".js"));
    const before = stored();
    await refused("e2e/jobs/throws.ts", "JOB_PLAN_FAILED", /the job's author made a mistake/);
    await refused("e2e/jobs/no-sink.ts", "JOB_INVALID_GRAPH", /no sink/);
    expect(stored()).toEqual(before);
  });

  it("fails a job whose records cannot be sent to the next task, naming the operator and the reason", async () => {
    for (const [what, reason] of [
      ["circular", "it contains a circular reference or is nested too deeply"],
      ["function", "it contains a function"],
    ]) {
      const jobId = await cluster.submit("e2e/jobs/unserializable.ts", { args: ["--what", what!] });
      const job = await cluster.waitForStatus(jobId, "FAILED");
      expect(job.failure?.code).toBe("RECORD_NOT_SERIALIZABLE");
      expect(job.failure?.message).toContain(`a record emitted by operator "builds odd records"`);
      expect(job.failure?.message).toContain(reason);
    }
  });

  it("refuses malformed REST requests with JSON errors", async () => {
    const notJson = await cluster.rest<{ code: string }>("POST", "/jobs", "{not json");
    expect(notJson.status).toBe(400);
    expect(notJson.body.code).toBe("BAD_REQUEST");
    const noBundle = await cluster.rest<{ code: string; message: string }>("POST", "/jobs", { parallelism: 2 });
    expect(noBundle.status).toBe(400);
    expect(noBundle.body.code).toBe("BAD_REQUEST");
    const badParallelism = await cluster.rest<{ code: string }>("POST", "/jobs", { bundle: "AAAA", parallelism: -1 });
    expect(badParallelism.status).toBe(400);
    const notABundle = await cluster.rest<{ code: string }>("POST", "/jobs", { bundle: Buffer.from("this is not javascript(").toString("base64") });
    expect(notABundle.status).toBe(400);
    expect(notABundle.body.code).toBe("BUNDLE_INVALID");
    const unknown = await cluster.rest<{ code: string }>("GET", "/jobs/0123456789abcdef0123456789abcdef");
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe("JOB_NOT_FOUND");
    const badMode = await cluster.rest<{ code: string }>("PATCH", `/jobs/${longRunning}?mode=explode`);
    expect(badMode.status).toBe(400);
  });

  it("fails a job that needs more slots than the cluster has, after the slot timeout", async () => {
    const jobId = await cluster.submit("e2e/jobs/unbounded.ts", { parallelism: 3 });
    const job = await cluster.waitForStatus(jobId, "FAILED", 15_000);
    expect(job.failure?.code).toBe("NO_RESOURCE_AVAILABLE");
    expect(job.failure?.message).toMatch(/needs 3 slots/);
  });

  it("fails a job whose function throws at runtime, naming the task and the error", async () => {
    const jobId = await cluster.submit("e2e/jobs/fails-at-runtime.ts");
    const job = await cluster.waitForStatus(jobId, "FAILED");
    expect(job.failure?.code).toBe("TASK_FAILED");
    expect(job.failure?.message).toContain("cannot handle record 3");
    expect(job.failure?.message).toContain("Map");
  });

  it("kept the long-running job running through all of it", async () => {
    const job = await cluster.waitForJob(longRunning, (j) => j.vertices.at(-1)!.metrics["read-records"] > 0);
    expect(job.state).toBe("RUNNING");
    await cluster.rest("PATCH", `/jobs/${longRunning}?mode=cancel`);
    await cluster.waitForStatus(longRunning, "CANCELED");
  });
});

describe("bad process configuration", () => {
  it("a JobManager on a port already in use exits non-zero with PORT_IN_USE", async () => {
    const cluster = await TestCluster.start({ taskmanagers: 0 });
    try {
      const restPort = new URL(cluster.restUrl).port;
      const jm = new RiffleProcess("second-jobmanager", [
        "jobmanager",
        "--set",
        `rest.port=${restPort}`,
        "--set",
        "jobmanager.rpc.port=0",
        "--set",
        `jobmanager.storage.dir=${cluster.dir}/second`,
      ]);
      const { code } = await jm.exited;
      expect(code).not.toBe(0);
      expect(jm.stderr.join("\n")).toMatch(/error\[PORT_IN_USE\].*already in use/);
    } finally {
      await cluster.stop();
    }
  });

  it("an invalid setting is refused before anything starts", async () => {
    const jm = new RiffleProcess("bad-config", ["jobmanager"], { RIFFLE_REST_PORT: "eighty" });
    const { code } = await jm.exited;
    expect(code).not.toBe(0);
    expect(jm.stderr.join("\n")).toMatch(/error\[CONFIG_INVALID\].*rest\.port.*RIFFLE_REST_PORT/);
  });

  it("a TaskManager whose JobManager is unreachable gives up with JOBMANAGER_UNREACHABLE", async () => {
    const port = await freePort();
    const tm = new RiffleProcess("lonely-taskmanager", [
      "taskmanager",
      "--set",
      `taskmanager.jobmanager.address=127.0.0.1:${port}`,
      "--set",
      "taskmanager.registration.timeout=1s",
      "--set",
      "taskmanager.rpc.port=0",
      "--set",
      "taskmanager.metrics.port=0",
    ]);
    const { code } = await tm.exited;
    expect(code).not.toBe(0);
    expect(tm.stderr.join("\n")).toMatch(/error\[JOBMANAGER_UNREACHABLE\]/);
  });
});
