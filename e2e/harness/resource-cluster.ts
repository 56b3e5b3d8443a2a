import { bundleJob } from "@riffle/cli";
import type { JobDetails, SubmitJobResponse, TaskManagersInfo } from "@riffle/shared/rest-api";
import { metricValue, pollUntil, setFlags } from "./cluster.js";
import { RiffleProcess } from "./process.js";

/**
 * One JobManager whose resource manager starts the TaskManagers (a `process`, `kubernetes`, ...
 * provider), for the provider tests: started and restarted with the same settings, read over REST
 * and /metrics, polled with deadlines.
 */
export class ResourceCluster {
  jm!: RiffleProcess;
  restUrl = "";

  constructor(
    private readonly settings: Record<string, string | number>,
    /** The provider's name, as the `provider` label of the resource manager's metrics. */
    private readonly provider: string,
    /** Environment of the JobManager process beyond the test's own (e.g. a pod's KUBERNETES_SERVICE_HOST). */
    private readonly env: NodeJS.ProcessEnv = {},
  ) {}

  async start(): Promise<void> {
    this.jm = new RiffleProcess("jobmanager", ["jobmanager", ...setFlags(this.settings)], this.env);
    const started = await this.jm.waitForLog((l) => l.msg === "JobManager started", 30_000);
    this.restUrl = `http://127.0.0.1:${started.restPort}`;
  }

  async rest<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.restUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /** Bundles the job file (relative to the repository) and submits it over REST. */
  async submit(job: string, parallelism: number, args?: string[]): Promise<{ status: number; body: SubmitJobResponse }> {
    const bundle = Buffer.from(await bundleJob(job)).toString("base64");
    return this.rest<SubmitJobResponse>("POST", "/jobs", { bundle, parallelism, ...(args ? { args } : {}) });
  }

  async taskmanagers(): Promise<TaskManagersInfo["taskmanagers"]> {
    return (await this.rest<TaskManagersInfo>("GET", "/taskmanagers")).body.taskmanagers;
  }

  async job(id: string): Promise<JobDetails> {
    return (await this.rest<JobDetails>("GET", `/jobs/${id}`)).body;
  }

  /** A resource-manager metric of this cluster's provider. */
  async metric(name: string): Promise<number | undefined> {
    const res = await fetch(`${this.restUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
    return metricValue(await res.text(), name, { provider: this.provider });
  }

  /** Polls `probe` until `done` holds, with a deadline. */
  until<T>(what: string, probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
    return pollUntil(what, probe, done, timeoutMs, () => this.jm.tail(30));
  }
}
