import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleJob } from "@riffle/cli";
import { RiffleProcess } from "./process.js";
import { TERMINAL_JOB_STATUSES, type JobDetails, type JobVertexDetails, type ResultsPage, type SubmitJobResponse } from "@riffle/shared/rest-api";

export type Settings = Record<string, string | number>;

export interface ClusterOptions {
  taskmanagers?: number;
  /** Settings for every process. */
  config?: Settings;
  jobmanager?: Settings;
  taskmanager?: Settings;
}

export type { JobDetails };

/**
 * Polls `probe` every 200 ms until `done` holds, or throws at the deadline with the last value seen
 * (and `context()`, e.g. a log tail). For state only a REST answer shows; events have their own waits.
 */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T>,
  done: (v: T) => boolean,
  timeoutMs: number,
  context: () => string = () => "",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  const extra = context();
  throw new Error(`${what} within ${timeoutMs} ms; last: ${JSON.stringify(last)}${extra ? `\n${extra}` : ""}`);
}

/** `--set key=value` flags for the `riffle` CLI. */
export function setFlags(settings: Settings): string[] {
  return Object.entries(settings).flatMap(([k, v]) => ["--set", `${k}=${v}`]);
}

/**
 * A real cluster for tests: one JobManager and N TaskManager processes on free ports, with a private
 * storage directory, started through the `riffle` CLI exactly as users start them.
 */
export class TestCluster {
  readonly taskmanagers: RiffleProcess[] = [];
  private tmCount = 0;

  protected constructor(
    readonly jobmanager: RiffleProcess,
    readonly restUrl: string,
    /** What TaskManagers are given as `taskmanager.jobmanager.address` (several, comma-separated, for a highly available cluster). */
    readonly rpcAddress: string,
    readonly dir: string,
    protected readonly options: ClusterOptions,
  ) {}

  static async start(options: ClusterOptions = {}): Promise<TestCluster> {
    const dir = mkdtempSync(join(tmpdir(), "riffle-e2e-"));
    const jm = new RiffleProcess("jobmanager", [
      "jobmanager",
      ...setFlags({
        "rest.port": 0,
        "jobmanager.rpc.port": 0,
        "jobmanager.storage.dir": join(dir, "jobmanager"),
        // Not the relative defaults: those would gather every test's checkpoints in the repository.
        "state.checkpoints.dir": join(dir, "checkpoints"),
        "state.savepoints.dir": join(dir, "savepoints"),
        ...options.config,
        ...options.jobmanager,
      }),
    ]);
    const started = await jm
      .waitForLog((l) => l.msg === "JobManager started")
      .catch(async (err: unknown) => {
        await jm.stop();
        throw err;
      });
    const cluster = new TestCluster(jm, `http://127.0.0.1:${started.restPort}`, `127.0.0.1:${started.rpcPort}`, dir, options);
    try {
      await Promise.all(Array.from({ length: options.taskmanagers ?? 2 }, () => cluster.addTaskManager()));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** `wrapper`: a command the TaskManager runs under (see RiffleProcess). */
  async addTaskManager(settings: Settings = {}, wrapper: string[] = []): Promise<RiffleProcess> {
    const n = this.tmCount++;
    const tm = new RiffleProcess(
      `taskmanager-${n}`,
      [
        "taskmanager",
        ...setFlags({
          "taskmanager.jobmanager.address": this.rpcAddress,
          "taskmanager.rpc.port": 0,
          "taskmanager.metrics.port": 0,
          ...this.options.config,
          ...this.options.taskmanager,
          ...settings,
        }),
      ],
      {},
      undefined,
      wrapper,
    );
    this.taskmanagers.push(tm);
    // A TaskManager registers once every slot's worker thread is ready: many slots on a busy machine take a while.
    await tm.waitForLog((l) => l.msg === "TaskManager registered", 60_000);
    return tm;
  }

  /** One REST call; `authorization` for a cluster with `rest.auth.*` configured. */
  rest<T = unknown>(method: string, path: string, body?: unknown, authorization?: string): Promise<{ status: number; body: T }> {
    return this.restAt(this.restUrl, method, path, body, authorization);
  }

  /** One REST call to the JobManager at `base`. */
  protected async restAt<T = unknown>(
    base: string,
    method: string,
    path: string,
    body?: unknown,
    authorization?: string,
  ): Promise<{ status: number; body: T }> {
    const res = await fetch(`${base}${path}`, {
      redirect: "manual",
      method,
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(authorization ? { authorization } : {}),
      },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /** Bundles a job file (as `riffle run` does) and submits it; returns the job id. */
  async submit(jobFile: string, options: { parallelism?: number; args?: string[]; name?: string; authorization?: string } = {}): Promise<string> {
    const { authorization, ...request } = options;
    const bundle = Buffer.from(await bundleJob(jobFile)).toString("base64");
    const res = await this.rest<SubmitJobResponse>("POST", "/jobs", { bundle, ...request }, authorization);
    if (res.status !== 202) throw new Error(`submit failed with ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body.jobid;
  }

  async job(jobId: string): Promise<JobDetails> {
    const res = await this.rest<JobDetails>("GET", `/jobs/${jobId}`);
    if (res.status !== 200) throw new Error(`GET /jobs/${jobId} gave ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** GET /jobs/:id/vertices/:vid: the vertex's subtasks, where they run and their metrics. */
  async vertex(jobId: string, vertexId: string): Promise<JobVertexDetails> {
    const res = await this.rest<JobVertexDetails>("GET", `/jobs/${jobId}/vertices/${vertexId}`);
    if (res.status !== 200) throw new Error(`GET /jobs/${jobId}/vertices/${vertexId} gave ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** Polls the job (REST) until its status is one of `statuses`, or fails after `timeoutMs`. */
  /**
   * Polls the job until it is in one of `statuses`, every `pollMs`. Benchmarks that time a job by its
   * own timestamps poll slowly: each poll costs the JobManager a job-details view, taken from the CPU
   * the measured job runs on.
   */
  async waitForStatus(jobId: string, statuses: string | string[], timeoutMs = 30_000, pollMs = 50): Promise<JobDetails> {
    const want = Array.isArray(statuses) ? statuses : [statuses];
    const deadline = Date.now() + timeoutMs;
    let last: JobDetails | undefined;
    while (Date.now() < deadline) {
      last = await this.job(jobId);
      if (want.includes(last.state)) return last;
      if (TERMINAL_JOB_STATUSES.has(last.state)) break;
      await new Promise((r) => setTimeout(r, pollMs));
    }
    throw new Error(`job ${jobId} is ${last?.state} (${JSON.stringify(last?.failure)}), expected ${want.join("|")}\n${this.jobmanager.tail()}`);
  }

  /** Waits until a condition on the job holds (e.g. a vertex's metrics), or fails after `timeoutMs`. */
  async waitForJob(jobId: string, predicate: (job: JobDetails) => boolean, timeoutMs = 30_000): Promise<JobDetails> {
    const deadline = Date.now() + timeoutMs;
    let last: JobDetails | undefined;
    while (Date.now() < deadline) {
      last = await this.job(jobId);
      if (predicate(last)) return last;
      if (TERMINAL_JOB_STATUSES.has(last.state)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`condition on job ${jobId} not met within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
  }

  /** Every record of the job's collect sinks, until the job ends. */
  async results(jobId: string, timeoutMs = 60_000): Promise<unknown[]> {
    const deadline = Date.now() + timeoutMs;
    const records: unknown[] = [];
    let cursor = 0;
    while (Date.now() < deadline) {
      const res = await this.rest<ResultsPage>("GET", `/jobs/${jobId}/results?cursor=${cursor}`);
      if (res.status !== 200) throw new Error(`results: ${res.status} ${JSON.stringify(res.body)}`);
      records.push(...res.body.records);
      cursor = res.body.nextCursor;
      if (res.body.finished) return records;
    }
    throw new Error(`job ${jobId} did not finish within ${timeoutMs} ms`);
  }

  async metrics(tm: RiffleProcess): Promise<string> {
    const started = await tm.waitForLog((l) => l.msg === "TaskManager started");
    const res = await fetch(`http://127.0.0.1:${started.metricsPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
    return res.text();
  }

  async stop(): Promise<void> {
    await Promise.all(this.taskmanagers.map((tm) => tm.stop()));
    await this.jobmanager.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Whether the job and every subtask of it are RUNNING. (A vertex's status reads RUNNING as soon as one
 * of its subtasks does, as in Flink: a subtask still deploying shows only in its task counts.)
 */
export function allRunning(job: JobDetails): boolean {
  return job.state === "RUNNING" && job.vertices.every((v) => v.tasks.RUNNING === v.parallelism);
}

/** Reads one sample of a Prometheus metric with the given labels (undefined if absent). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}
