import { createServer, type Server } from "node:net";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, loadConfig, RiffleError, type RiffleConfig } from "@riffle/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobManager } from "../index.js";

const logger = createLogger("test");
logger.level = "silent";

const VALID_JOB = `import { CollectSink } from "@riffle/sdk";
export default function(env) { env.fromElements(1, 2, 3).map((x) => x * 2).sinkTo(new CollectSink()); }`;

const base64 = (text: string) => Buffer.from(text).toString("base64");

function config(storage: string, overrides: Record<string, unknown> = {}): RiffleConfig {
  return loadConfig({
    env: {},
    overrides: { "rest.port": 0, "jobmanager.rpc.port": 0, "jobmanager.storage.dir": storage, "jobmanager.slot-request.timeout": "1s", ...overrides },
  });
}

/** Polls GET /jobs/:id until `done` holds or the deadline passes. */
async function waitForJob(base: string, jobId: string, done: (job: { state: string }) => boolean, timeoutMs = 15_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = (await (await fetch(`${base}/jobs/${jobId}`)).json()) as Record<string, unknown> & { state: string };
    if (done(job)) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} is still ${job.state} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("REST API", () => {
  let storage: string;
  let jm: JobManager;
  let base: string;

  beforeAll(async () => {
    storage = mkdtempSync(join(tmpdir(), "riffle-rest-test-"));
    jm = await JobManager.create(config(storage), logger);
    base = `http://127.0.0.1:${jm.restPort}`;
  });
  afterAll(async () => {
    await jm?.close();
    rmSync(storage, { recursive: true, force: true });
  });

  const post = (body: string, contentType = "application/json") => fetch(`${base}/jobs`, { method: "POST", headers: { "content-type": contentType }, body });

  async function expectError(res: Response, status: number, code: string): Promise<string> {
    const body = (await res.json()) as { code: string; message: string };
    expect({ status: res.status, code: body.code }).toEqual({ status, code });
    expect(body.message.length).toBeGreaterThan(0);
    return body.message;
  }

  it("answers a malformed JSON body with 400 BAD_REQUEST", async () => {
    expect(await expectError(await post("{ not json"), 400, "BAD_REQUEST")).toMatch(/malformed JSON body/);
  });

  it("validates the submission body", async () => {
    expect(await expectError(await post(JSON.stringify({ name: "x" })), 400, "BAD_REQUEST")).toMatch(/bundle/);
    await expectError(await post(JSON.stringify({ bundle: base64(VALID_JOB), parallelism: 0 })), 400, "BAD_REQUEST");
    await expectError(await post(JSON.stringify({ bundle: "%%%" })), 400, "BAD_REQUEST");
    expect(
      await expectError(await post(JSON.stringify({ bundle: base64(VALID_JOB), jobFile: { name: "a.ts", content: VALID_JOB } })), 400, "BAD_REQUEST"),
    ).toMatch(/send the job either as `bundle`/);
    expect(await expectError(await post(JSON.stringify({ jobFile: { name: "job.txt", content: VALID_JOB } })), 400, "BAD_REQUEST")).toMatch(
      /must be a TypeScript or JavaScript module/,
    );
    expect(await expectError(await post(JSON.stringify({ jobFile: { name: "job.ts", content: "import './other.js';" } })), 400, "BUNDLE_INVALID")).toMatch(
      /cannot bundle job\.ts/,
    );
  });

  it("bundles an uploaded TypeScript job file and names the job after it", async () => {
    const source = `import { CollectSink, type StreamExecutionEnvironment } from "@riffle/sdk";
export default function (env: StreamExecutionEnvironment): void { env.fromElements<number>(1, 2).map((x: number) => x + 1).sinkTo(new CollectSink()); }`;
    const res = await post(JSON.stringify({ jobFile: { name: "typed-job.ts", content: source } }));
    expect(res.status).toBe(202);
    const { jobid } = (await res.json()) as { jobid: string };
    const plan = (await (await fetch(`${base}/jobs/${jobid}/plan`)).json()) as { plan: { name: string; nodes: unknown[] } };
    expect(plan.plan.name).toBe("typed-job");
    expect(plan.plan.nodes.length).toBeGreaterThan(0);
  });

  it("returns plan errors with their code", async () => {
    const message = await expectError(
      await post(JSON.stringify({ bundle: base64("export default function(env) { throw new Error('bad job'); }") })),
      400,
      "JOB_PLAN_FAILED",
    );
    expect(message).toContain("bad job");
    await expectError(await post(JSON.stringify({ bundle: base64("export const x = 1;") })), 400, "JOB_NO_DEFAULT_EXPORT");
    await expectError(await post(JSON.stringify({ bundle: base64("export default function(env) {") })), 400, "BUNDLE_INVALID");
  });

  it("answers unknown jobs, TaskManagers and routes with 404", async () => {
    const id = "0".repeat(32);
    for (const path of [`/jobs/${id}`, `/jobs/${id}/plan`, `/jobs/${id}/exceptions`, `/jobs/${id}/results`, `/jobs/${id}/vertices/v1/watermarks`]) {
      await expectError(await fetch(`${base}${path}`), 404, "JOB_NOT_FOUND");
    }
    await expectError(await fetch(`${base}/jobs/${id}?mode=cancel`, { method: "PATCH" }), 404, "JOB_NOT_FOUND");
    await expectError(await fetch(`${base}/taskmanagers/nope`), 404, "TASKMANAGER_NOT_FOUND");
    await expectError(await fetch(`${base}/no/such/path`), 404, "NOT_FOUND");
  });

  it("refuses PATCH without mode=cancel", async () => {
    const id = "0".repeat(32);
    expect(await expectError(await fetch(`${base}/jobs/${id}`, { method: "PATCH" }), 400, "BAD_REQUEST")).toMatch(/mode/);
    await expectError(await fetch(`${base}/jobs/${id}?mode=stop`, { method: "PATCH" }), 400, "BAD_REQUEST");
  });

  it("accepts a valid job after bad submissions and fails it with NO_RESOURCE_AVAILABLE when no TaskManager comes", async () => {
    const res = await post(JSON.stringify({ bundle: base64(VALID_JOB), name: "doubler", parallelism: 2, args: ["--a", "b"] }));
    expect(res.status).toBe(202);
    const { jobid: jobId, jobUrl } = (await res.json()) as { jobid: string; jobUrl: string };
    expect(jobId).toMatch(/^[0-9a-f]{32}$/);
    expect(jobUrl).toBe(`/jobs/${jobId}`);

    const plan = (await (await fetch(`${base}/jobs/${jobId}/plan`)).json()) as { plan: { nodes: Array<{ id: string; inputs: unknown[] }> } };
    expect(plan.plan).toMatchObject({ jid: jobId, name: "doubler", type: "STREAMING" });
    expect(plan.plan.nodes.map((n) => [n.id, n.inputs])).toEqual([
      ["v1", []],
      ["v2", [{ num: 0, id: "v1", ship_strategy: "REBALANCE", exchange: "pipelined_bounded" }]],
    ]);

    const job = await waitForJob(base, jobId, (j) => j.state === "FAILED");
    expect(job).toMatchObject({
      jid: jobId,
      name: "doubler",
      maxParallelism: 128,
      failure: {
        code: "NO_RESOURCE_AVAILABLE",
        message: "job needs 2 slots but only 0 are free (0 TaskManagers registered); start more TaskManagers or lower the parallelism",
      },
    });
    const reached = Object.entries(job.timestamps as Record<string, number>).filter(([, t]) => t > 0);
    expect(reached.map(([status]) => status)).toEqual(["CREATED", "FAILING", "FAILED"]);
    expect(Object.keys(job.timestamps as object)).toContain("RUNNING");

    const exceptions = (await (await fetch(`${base}/jobs/${jobId}/exceptions`)).json()) as Record<string, unknown>;
    expect(exceptions["root-exception"]).toMatch(/^job needs 2 slots/);
    expect(exceptions.exceptionHistory).toMatchObject({ entries: [{ exceptionName: "NO_RESOURCE_AVAILABLE", taskName: null, taskManagerId: null }] });

    // Never deployed: every subtask is there, without a watermark (Flink's Long.MIN_VALUE is ours -(2^53-1)).
    const watermarks = await (await fetch(`${base}/jobs/${jobId}/vertices/v2/watermarks`)).json();
    const none = String(Number.MIN_SAFE_INTEGER);
    expect(watermarks).toEqual([
      { id: "0.currentInputWatermark", value: none },
      { id: "0.currentOutputWatermark", value: none },
      { id: "1.currentInputWatermark", value: none },
      { id: "1.currentOutputWatermark", value: none },
    ]);
    expect(await expectError(await fetch(`${base}/jobs/${jobId}/vertices/v9/watermarks`), 404, "NOT_FOUND")).toMatch(/no vertex v9/);
    // Flink's vertex details: never deployed, so no subtask attempts yet.
    expect(await (await fetch(`${base}/jobs/${jobId}/vertices/v2`)).json()).toMatchObject({ id: "v2", parallelism: 2, maxParallelism: 128, subtasks: [] });
    expect(job.vertices).toMatchObject([
      { id: "v1", status: "CANCELED", "start-time": -1, tasks: { RUNNING: 0 } },
      { id: "v2", status: "CANCELED", parallelism: 2, metrics: { "read-records": 0, "read-records-complete": false } },
    ]);

    expect(job.numRestarts).toBe(0);
    for (const path of ["checkpoints", "checkpoints/config"]) {
      expect(await expectError(await fetch(`${base}/jobs/${jobId}/${path}`), 404, "CHECKPOINTING_DISABLED")).toMatch(/takes no checkpoints/);
    }
    const results = await (await fetch(`${base}/jobs/${jobId}/results?cursor=0`)).json();
    expect(results).toEqual({ records: [], nextCursor: 0, finished: true, state: "FAILED" });

    const cancelled = await fetch(`${base}/jobs/${jobId}?mode=cancel`, { method: "PATCH" });
    expect(await expectError(cancelled, 409, "JOB_NOT_RUNNING")).toMatch(/already ended \(FAILED\)/);

    const list = (await (await fetch(`${base}/jobs`)).json()) as { jobs: Array<{ id: string; status: string }> };
    expect(list.jobs.find((j) => j.id === jobId)).toEqual({ id: jobId, status: "FAILED" });
    const overview = (await (await fetch(`${base}/jobs/overview`)).json()) as { jobs: Array<{ jid: string }> };
    expect(overview.jobs.find((j) => j.jid === jobId)).toMatchObject({
      name: "doubler",
      state: "FAILED",
      parallelism: 2,
      tasks: { total: 0, running: 0 },
    });
  });

  it("cancels a job that waits for slots", async () => {
    // Its own JobManager with a long slot timeout: under load the cancel could come after this file's 1 s.
    const dir = mkdtempSync(join(tmpdir(), "riffle-rest-cancel-"));
    const waiting = await JobManager.create(config(dir, { "jobmanager.slot-request.timeout": "60s" }), logger);
    try {
      const url = `http://127.0.0.1:${waiting.restPort}`;
      const submitted = await fetch(`${url}/jobs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ bundle: base64(VALID_JOB) }),
      });
      const { jobid: jobId } = (await submitted.json()) as { jobid: string };
      const res = await fetch(`${url}/jobs/${jobId}?mode=cancel`, { method: "PATCH" });
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({});
      await waitForJob(url, jobId, (j) => j.state === "CANCELED");
    } finally {
      await waiting.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("validates savepoint, stop and rescale requests, and refuses them for a job that is not RUNNING", async () => {
    const request = (method: string, path: string, body?: unknown) =>
      fetch(`${base}${path}`, {
        method,
        ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
      });
    const missing = join(storage, "no-such-savepoint");
    expect(await expectError(await post(JSON.stringify({ bundle: base64(VALID_JOB), savepointPath: missing })), 400, "SAVEPOINT_INVALID")).toBe(
      `savepoint ${missing} does not exist`,
    );
    const unknown = "0".repeat(32);
    await expectError(await request("POST", `/jobs/${unknown}/savepoints`, {}), 404, "JOB_NOT_FOUND");
    await expectError(await request("GET", `/jobs/${unknown}/savepoints/abc`), 404, "JOB_NOT_FOUND");

    const { jobid: jobId } = (await (await post(JSON.stringify({ bundle: base64(VALID_JOB) }))).json()) as { jobid: string };
    await waitForJob(base, jobId, (j) => j.state === "FAILED");
    expect(await expectError(await request("POST", `/jobs/${jobId}/savepoints`, { "target-directory": storage }), 409, "JOB_NOT_RUNNING")).toBe(
      `job ${jobId} is FAILED; only a RUNNING job can have a savepoint taken`,
    );
    await expectError(await request("POST", `/jobs/${jobId}/savepoints`), 409, "JOB_NOT_RUNNING");
    await expectError(await request("POST", `/jobs/${jobId}/stop`, {}), 409, "JOB_NOT_RUNNING");
    expect(await expectError(await request("POST", `/jobs/${jobId}/stop`, { drain: true }), 400, "BAD_REQUEST")).toMatch(/drain is not supported/);
    expect(await expectError(await request("POST", `/jobs/${jobId}/savepoints`, { "cancel-job": "yes" }), 400, "BAD_REQUEST")).toMatch(/cancel-job/);
    expect(await expectError(await request("PATCH", `/jobs/${jobId}/rescaling?parallelism=0`), 400, "BAD_REQUEST")).toMatch(/at least 1/);
    await expectError(await request("PATCH", `/jobs/${jobId}/rescaling`), 400, "BAD_REQUEST");
    expect(await expectError(await request("POST", `/jobs/${jobId}/rescaling?parallelism=129`), 400, "PARALLELISM_ABOVE_MAX")).toMatch(
      /its max parallelism is 128/,
    );
    await expectError(await request("PATCH", `/jobs/${jobId}/rescaling?parallelism=2`), 409, "JOB_NOT_RUNNING");
    expect(await expectError(await request("GET", `/jobs/${jobId}/savepoints/abc`), 404, "OPERATION_NOT_FOUND")).toBe(
      `job ${jobId} has no savepoint operation with trigger id abc`,
    );
    await expectError(await request("GET", `/jobs/${jobId}/rescaling/abc`), 404, "OPERATION_NOT_FOUND");
  });

  it("serves the overview, TaskManagers, configuration and metrics", async () => {
    const overview = await (await fetch(`${base}/overview`)).json();
    expect(overview).toMatchObject({ taskmanagers: 0, "slots-total": 0, "slots-available": 0, "jobs-failed": expect.any(Number) });
    expect(await (await fetch(`${base}/taskmanagers`)).json()).toEqual({ taskmanagers: [] });
    const cfg = (await (await fetch(`${base}/jobmanager/config`)).json()) as Array<{ key: string; value: string }>;
    expect(cfg.find((e) => e.key === "jobmanager.slot-request.timeout")).toEqual({ key: "jobmanager.slot-request.timeout", value: "1000" });
    const jmMetrics = (await (await fetch(`${base}/jobmanager/metrics?get=taskSlotsTotal,numRegisteredTaskManagers,nope`)).json()) as unknown[];
    expect(jmMetrics).toEqual([
      { id: "taskSlotsTotal", value: "0" },
      { id: "numRegisteredTaskManagers", value: "0" },
    ]);
    const names = (await (await fetch(`${base}/jobmanager/metrics`)).json()) as Array<{ id: string; value?: string }>;
    expect(names.map((m) => m.id)).toContain("Status.Process.Memory.RSS");
    expect(names.every((m) => m.value === undefined)).toBe(true);
    expect(await (await fetch(`${base}/config`)).json()).toMatchObject({
      "refresh-interval": 2000,
      features: { "web-submit": true, "web-cancel": true },
      auth: { enabled: false, role: "operator" },
    });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain("riffle_jobmanager_taskmanagers");
    expect(metrics).toContain("riffle_jobmanager_slots_total");
    expect(metrics).toContain("riffle_jobmanager_slots_available");
    expect(metrics).toMatch(/riffle_jobmanager_jobs\{status="FAILED",process="jobmanager"\} [1-9]/);
  });
});

describe("REST API with authentication", () => {
  let storage: string;
  let jm: JobManager;
  let base: string;
  const OPERATOR = "op-secret-token";
  const READER = "read-secret-token";

  beforeAll(async () => {
    storage = mkdtempSync(join(tmpdir(), "riffle-rest-auth-"));
    jm = await JobManager.create(
      config(storage, {
        "rest.auth.operator-token": OPERATOR,
        "rest.auth.read-only-token": READER,
        "rest.auth.operator-credentials": "admin:pa:ss",
        "rest.auth.anonymous": "read-only",
      }),
      logger,
    );
    base = `http://127.0.0.1:${jm.restPort}`;
  });
  afterAll(async () => {
    await jm?.close();
    rmSync(storage, { recursive: true, force: true });
  });

  const call = (method: string, path: string, authorization?: string, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: {
        ...(authorization ? { authorization } : {}),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const bearer = (token: string) => `Bearer ${token}`;
  const basic = (userPassword: string) => `Basic ${Buffer.from(userPassword).toString("base64")}`;
  const submission = { bundle: base64(VALID_JOB) };

  it("tells the dashboard, without credentials, that auth is on and which role the caller has", async () => {
    expect(await (await call("GET", "/config")).json()).toMatchObject({ auth: { enabled: true, role: null, anonymous: "read-only" } });
    expect(await (await call("GET", "/config", bearer(READER))).json()).toMatchObject({ auth: { role: "read-only" } });
    expect(await (await call("GET", "/config", basic("admin:pa:ss"))).json()).toMatchObject({ auth: { role: "operator" } });
    expect(await (await call("GET", "/config", bearer("wrong"))).json()).toMatchObject({ auth: { role: null } });
  });

  it("lets anonymous and read-only callers read, and refuses them every action", async () => {
    expect((await call("GET", "/overview")).status).toBe(200);
    expect((await call("GET", "/jobs/overview", bearer(READER))).status).toBe(200);
    const anonymous = (await (await call("POST", "/jobs", undefined, submission)).json()) as { code: string; message: string };
    expect(anonymous).toEqual({
      code: "UNAUTHORIZED",
      message: 'POST /jobs needs an operator\'s credentials: send "Authorization: Bearer <token>" or HTTP basic credentials configured in rest.auth.*',
    });
    const reader = await call("POST", "/jobs", bearer(READER), submission);
    expect(reader.status).toBe(403);
    expect(await reader.json()).toMatchObject({ code: "FORBIDDEN", message: "POST /jobs needs the operator role; these credentials are read-only" });
    for (const [method, path] of [
      ["PATCH", "/jobs/0/rescaling?parallelism=2"],
      ["PATCH", "/jobs/0?mode=cancel"],
      ["POST", "/jobs/0/savepoints"],
      ["POST", "/jobs/0/stop"],
    ] as const) {
      expect((await call(method, path, bearer(READER))).status, `${method} ${path}`).toBe(403);
      expect((await call(method, path)).status, `${method} ${path}`).toBe(401);
    }
  });

  it("refuses wrong credentials even where anonymous callers may read", async () => {
    const wrong = await call("GET", "/overview", bearer("nope"));
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ code: "UNAUTHORIZED", message: "the token is not valid for this JobManager" });
    expect((await call("GET", "/overview", basic("admin:wrong"))).status).toBe(401);
    expect((await call("GET", "/overview", "Digest x")).status).toBe(401);
  });

  it("accepts a submission with the operator's token or basic credentials", async () => {
    const byToken = await call("POST", "/jobs", bearer(OPERATOR), submission);
    expect(byToken.status).toBe(202);
    const byBasic = await call("POST", "/jobs", basic("admin:pa:ss"), submission);
    expect(byBasic.status).toBe(202);
  });

  it("keeps credentials out of GET /jobmanager/config and serves the OpenAPI document to anyone", async () => {
    const cfg = (await (await call("GET", "/jobmanager/config", bearer(READER))).json()) as Array<{ key: string; value: string }>;
    const values = Object.fromEntries(cfg.map((e) => [e.key, e.value]));
    expect(values["rest.auth.operator-token"]).toBe("******");
    expect(values["rest.auth.operator-credentials"]).toBe("******");
    expect(values["rest.client.token"]).toBe("");
    expect(JSON.stringify(cfg)).not.toContain(OPERATOR);

    const openapi = (await (await call("GET", "/openapi.json")).json()) as {
      paths: Record<string, Record<string, { tags: string[]; summary: string }>>;
      components: { securitySchemes: object; schemas: Record<string, unknown> };
    };
    expect(openapi.paths["/jobs/{id}"]?.get?.tags).toEqual(["Flink-compatible"]);
    expect(openapi.paths["/jobs"]?.post?.tags).toEqual(["Riffle"]);
    expect(openapi.paths["/jobs/{id}/results"]?.get?.tags).toEqual(["Riffle"]);
    expect(Object.keys(openapi.components.securitySchemes)).toEqual(["bearer", "basic"]);
    expect(openapi.components.schemas).toHaveProperty("JobDetails");
  });
});

describe("JobManager lifecycle", () => {
  let storage: string;
  beforeAll(() => {
    storage = mkdtempSync(join(tmpdir(), "riffle-jm-life-"));
  });
  afterAll(() => rmSync(storage, { recursive: true, force: true }));

  async function occupy(): Promise<{ server: Server; port: number }> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { server, port: (server.address() as { port: number }).port };
  }

  async function createError(overrides: Record<string, unknown>): Promise<RiffleError> {
    const err = await JobManager.create(config(storage, overrides), logger).then(
      async (jm) => {
        await jm.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RiffleError);
    return err as RiffleError;
  }

  it("refuses ports in use with PORT_IN_USE", async () => {
    const { server, port } = await occupy();
    try {
      const rest = await createError({ "rest.port": port });
      expect(rest.code).toBe("PORT_IN_USE");
      expect(rest.message).toContain(`127.0.0.1:${port}`);
      expect(rest.message).toMatch(/Stop the other process or choose another port/);
      const grpc = await createError({ "jobmanager.rpc.port": port });
      expect(grpc.code).toBe("PORT_IN_USE");
    } finally {
      server.close();
    }
  });

  it("keeps job history across restarts and marks unfinished jobs FAILED", async () => {
    const first = await JobManager.create(config(storage, { "jobmanager.slot-request.timeout": "60s" }), logger);
    const res = await fetch(`http://127.0.0.1:${first.restPort}/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ bundle: base64(VALID_JOB) }),
    });
    const { jobid: jobId } = (await res.json()) as { jobid: string };
    await first.close();

    const second = await JobManager.create(config(storage), logger);
    try {
      const job = await (await fetch(`http://127.0.0.1:${second.restPort}/jobs/${jobId}`)).json();
      expect(job).toMatchObject({
        state: "FAILED",
        failure: { code: "INTERNAL", message: "the JobManager restarted; jobs are not recovered without high availability" },
      });
    } finally {
      await second.close();
    }
  });

  it("plans jobs that set no watermark interval with pipeline.auto-watermark-interval", async () => {
    const dir = mkdtempSync(join(tmpdir(), "riffle-rest-test-"));
    const configured = await JobManager.create(config(dir, { "pipeline.auto-watermark-interval": "50ms" }), logger);
    try {
      const submit = async (job: string) => {
        const res = await fetch(`http://127.0.0.1:${configured.restPort}/jobs`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ bundle: base64(job) }),
        });
        expect(res.status).toBe(202);
        return ((await res.json()) as { jobid: string }).jobid;
      };
      const unset = await submit(VALID_JOB);
      const own = await submit(VALID_JOB.replace("export default function(env) {", "export default function(env) { env.setAutoWatermarkInterval(500);"));
      // The graph the JobManager keeps, and deploys from (JobRuntimeConfig.autoWatermarkIntervalMs).
      const graphOf = (jobId: string) =>
        (JSON.parse(readFileSync(join(dir, "jobs", `${jobId}.json`), "utf8")) as { graph: { autoWatermarkIntervalMs?: number } }).graph;
      expect(graphOf(unset).autoWatermarkIntervalMs).toBe(50);
      expect(graphOf(own).autoWatermarkIntervalMs).toBe(500);
    } finally {
      await configured.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
