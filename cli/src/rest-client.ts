import { RiffleError, isErrorCode, type ErrorCode, type RiffleConfig } from "@riffle/shared";
import { InterruptedError } from "./errors.js";
import {
  TERMINAL_JOB_STATUSES,
  pathOf,
  type ClusterOverview,
  type JobDetails,
  type JobOverview,
  type JobStatus,
  type JobVertexDetails,
  type OperationResult,
  type ResultsPage,
  type SubmitJobRequest,
  type SubmitJobResponse,
  type TriggerResponse,
} from "@riffle/shared/rest-api";

export type { ClusterOverview, JobDetails, JobOverview, JobStatus, JobVertexDetails, OperationResult, ResultsPage, SubmitJobRequest, SubmitJobResponse };

/** Statuses a job never leaves. */
export const TERMINAL_STATUSES: ReadonlySet<string> = TERMINAL_JOB_STATUSES;

export interface SavepointTrigger {
  /** Directory the savepoint's own directory is created in (absolute); the cluster's state.savepoints.dir by default. */
  targetDirectory?: string;
  /** Cancel the job once the savepoint completed. */
  cancelJob?: boolean;
}

export interface RequestOptions {
  /** Aborts the request; its reason (e.g. an InterruptedError) is thrown. */
  signal?: AbortSignal;
  /** Overrides the client's timeout for this request. */
  timeoutMs?: number;
}

export interface RestClientOptions {
  /** Longest wait for one request (connect, answer and body), default 15 s. */
  timeoutMs?: number;
  /** Bearer token sent with every request (`rest.auth.*` on the JobManager). */
  token?: string;
  /** `user:password` sent with HTTP basic authentication. */
  credentials?: string;
}

/**
 * The credentials the CLI sends (`rest.auth.*` on the JobManager): `rest.client.token` or
 * `rest.client.credentials`; else, for a cluster configured from the same file, the cluster's own
 * operator and then read-only credentials.
 */
export function restAuthOf(config: RiffleConfig): { token?: string; credentials?: string } {
  for (const key of ["rest.client.token", "rest.auth.operator-token", "rest.auth.read-only-token"] as const) {
    if (config[key]) return { token: config[key] };
  }
  for (const key of ["rest.client.credentials", "rest.auth.operator-credentials", "rest.auth.read-only-credentials"] as const) {
    if (config[key]) return { credentials: config[key] };
  }
  return {};
}

/** The results long-poll holds a request for up to ~10 s; allow for that. */
const RESULTS_TIMEOUT_MS = 30_000;
/** Submitting includes uploading the bundle and planning the job (jobmanager.plan.timeout, 10 s by default). */
const SUBMIT_TIMEOUT_MS = 60_000;
/** With several JobManagers: how long a request looks for the leader (an election and the jobs' recovery take a few seconds). */
const LEADER_WAIT_MS = 30_000;

/**
 * A client of the JobManager's REST API. Failures surface as RiffleErrors: an unreachable or silent
 * JobManager as JOBMANAGER_UNREACHABLE, an error answer (`{code, message}`) with its own code.
 *
 * Given the REST addresses of several JobManagers (a highly available cluster, comma-separated), it
 * follows the leader: a standby redirects to it (followed by fetch), and a JobManager that is
 * unreachable or knows no leader (503 NOT_LEADER) makes the client ask the next one, for up to 30 s.
 *
 * ```ts
 * const client = new RestClient("http://127.0.0.1:8081");
 * const { jobs } = await client.listJobs();
 * ```
 */
export class RestClient {
  private readonly timeoutMs: number;
  private readonly authorization: string | undefined;
  private readonly urls: string[];
  private current = 0;

  constructor(
    /** Base URL without a trailing slash, e.g. `http://127.0.0.1:8081`; several separated by commas. */
    baseUrl: string,
    options: RestClientOptions = {},
  ) {
    this.urls = baseUrl
      .split(",")
      .map((u) => u.trim().replace(/\/+$/, ""))
      .filter((u) => u !== "");
    if (this.urls.length === 0) throw new RiffleError("CONFIG_INVALID", "no JobManager REST address given");
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.authorization = options.token
      ? `Bearer ${options.token}`
      : options.credentials
        ? `Basic ${Buffer.from(options.credentials).toString("base64")}`
        : undefined;
  }

  overview(options?: RequestOptions): Promise<ClusterOverview> {
    return this.request("GET", pathOf("overview"), undefined, options);
  }

  /** Every job with its times and task counts (GET /jobs/overview), newest first. */
  listJobs(options?: RequestOptions): Promise<{ jobs: JobOverview[] }> {
    return this.request("GET", pathOf("jobsOverview"), undefined, options);
  }

  job(jobId: string, options?: RequestOptions): Promise<JobDetails> {
    return this.request("GET", pathOf("jobDetails", { id: jobId }), undefined, options);
  }

  vertex(jobId: string, vertexId: string, options?: RequestOptions): Promise<JobVertexDetails> {
    return this.request("GET", pathOf("vertexDetails", { id: jobId, vid: vertexId }), undefined, options);
  }

  submitJob(body: SubmitJobRequest, options?: RequestOptions): Promise<SubmitJobResponse> {
    return this.request("POST", pathOf("submitJob"), body, { timeoutMs: SUBMIT_TIMEOUT_MS, ...options });
  }

  async cancelJob(jobId: string, options?: RequestOptions): Promise<void> {
    await this.request("PATCH", `${pathOf("cancelJob", { id: jobId })}?mode=cancel`, undefined, options);
  }

  /** Triggers a savepoint; returns the trigger id to poll with `savepointStatus`. */
  async triggerSavepoint(jobId: string, trigger: SavepointTrigger = {}, options?: RequestOptions): Promise<string> {
    const body = {
      ...(trigger.targetDirectory !== undefined ? { "target-directory": trigger.targetDirectory } : {}),
      ...(trigger.cancelJob !== undefined ? { "cancel-job": trigger.cancelJob } : {}),
    };
    const answer = await this.request<TriggerResponse>("POST", pathOf("savepoint", { id: jobId }), body, options);
    return answer["request-id"];
  }

  /** The state of a savepoint or stop-with-savepoint. */
  savepointStatus(jobId: string, triggerId: string, options?: RequestOptions): Promise<OperationResult> {
    return this.request("GET", pathOf("savepointStatus", { id: jobId, triggerId }), undefined, options);
  }

  /** Stops the job with a savepoint (it ends FINISHED); returns the trigger id to poll with `savepointStatus`. */
  async stopJob(jobId: string, stop: { targetDirectory?: string } = {}, options?: RequestOptions): Promise<string> {
    const body = stop.targetDirectory !== undefined ? { targetDirectory: stop.targetDirectory } : {};
    const answer = await this.request<TriggerResponse>("POST", pathOf("stop", { id: jobId }), body, options);
    return answer["request-id"];
  }

  /** Rescales the job to `parallelism` (stop with a savepoint, restart from it); returns the trigger id to poll with `rescaleStatus`. */
  async rescaleJob(jobId: string, parallelism: number, options?: RequestOptions): Promise<string> {
    const answer = await this.request<TriggerResponse>("PATCH", `${pathOf("rescale", { id: jobId })}?parallelism=${parallelism}`, undefined, options);
    return answer["request-id"];
  }

  rescaleStatus(jobId: string, triggerId: string, options?: RequestOptions): Promise<OperationResult> {
    return this.request("GET", pathOf("rescaleStatus", { id: jobId, triggerId }), undefined, options);
  }

  /** Long-polls for the job's collected records after `cursor`. */
  results(jobId: string, cursor: number, options?: RequestOptions): Promise<ResultsPage> {
    return this.request("GET", `${pathOf("results", { id: jobId })}?cursor=${cursor}`, undefined, { timeoutMs: RESULTS_TIMEOUT_MS, ...options });
  }

  /** The JobManager the client talks to now (the leader last found, with several). */
  get baseUrl(): string {
    return this.urls[this.current]!;
  }

  private async request<T>(method: string, path: string, body: unknown, options: RequestOptions = {}): Promise<T> {
    if (this.urls.length === 1) return this.requestAt(this.baseUrl, method, path, body, options);
    const deadline = Date.now() + LEADER_WAIT_MS;
    let backoffMs = 100;
    for (;;) {
      let last: unknown;
      for (let i = 0; i < this.urls.length; i++) {
        const index = (this.current + i) % this.urls.length;
        try {
          const answer = await this.requestAt<T>(this.urls[index]!, method, path, body, options);
          this.current = index;
          return answer;
        } catch (err) {
          // Only "not here": an unreachable JobManager, or one that knows no leader. Any other answer is the leader's.
          if (!(err instanceof RiffleError) || (err.code !== "JOBMANAGER_UNREACHABLE" && err.code !== "NOT_LEADER")) throw err;
          last = err;
        }
      }
      if (Date.now() + backoffMs > deadline) {
        const why = last instanceof Error ? last.message : String(last);
        throw new RiffleError(
          "JOBMANAGER_UNREACHABLE",
          `no leading JobManager among ${this.urls.join(", ")} within ${formatSeconds(LEADER_WAIT_MS)} (last: ${why})`,
          {
            cause: last,
          },
        );
      }
      // An election is under way (or every JobManager is down): the next round is the event awaited.
      await new Promise((resolve) => setTimeout(resolve, backoffMs));
      backoffMs = Math.min(backoffMs * 2, 1_000);
    }
  }

  private async requestAt<T>(baseUrl: string, method: string, path: string, body: unknown, options: RequestOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let status: number;
    let statusText: string;
    let text: string;
    try {
      const res = await fetch(`${baseUrl}${path}`, {
        method,
        signal,
        headers: {
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...(this.authorization ? { authorization: this.authorization } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      status = res.status;
      statusText = res.statusText;
      text = await res.text();
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason instanceof Error ? options.signal.reason : new InterruptedError("SIGINT");
      const reason = timeout.aborted ? `no answer within ${formatSeconds(timeoutMs)}` : networkReason(err);
      throw this.unreachable(baseUrl, reason, err);
    }
    if (status >= 200 && status < 300) {
      if (text.trim() === "") return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch (err) {
        throw new RiffleError("INTERNAL", `the JobManager at ${baseUrl} answered ${method} ${path} with invalid JSON: ${text.slice(0, 200)}`, {
          cause: err,
        });
      }
    }
    throw errorFromAnswer(status, statusText, text, `${method} ${path}`);
  }

  private unreachable(baseUrl: string, reason: string, cause: unknown): RiffleError {
    return new RiffleError(
      "JOBMANAGER_UNREACHABLE",
      `cannot reach the JobManager at ${baseUrl} (${reason}). Is it running? Start one with \`riffle cluster start\` or pass --jobmanager host:port.`,
      { cause },
    );
  }
}

/** Turns an error answer into a RiffleError, keeping the JobManager's code when it sent one. */
function errorFromAnswer(status: number, statusText: string, text: string, request: string): RiffleError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const body = parsed !== null && typeof parsed === "object" ? (parsed as { code?: unknown; message?: unknown }) : undefined;
  const message = typeof body?.message === "string" ? body.message : undefined;
  if (body && isErrorCode(body.code) && message !== undefined) return new RiffleError(body.code, message);
  const fallback = statusCode(status);
  if (message !== undefined) return new RiffleError(fallback, typeof body?.code === "string" ? `${body.code}: ${message}` : message);
  const detail = text.trim() === "" ? "" : `: ${text.trim().slice(0, 200)}`;
  return new RiffleError(fallback, `the JobManager answered ${status} ${statusText} to ${request}${detail}`);
}

function statusCode(status: number): ErrorCode {
  if (status === 404) return "NOT_FOUND";
  if (status === 401) return "UNAUTHORIZED";
  if (status === 403) return "FORBIDDEN";
  if (status === 409) return "JOB_NOT_RUNNING";
  if (status >= 400 && status < 500) return "BAD_REQUEST";
  return "INTERNAL";
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connection timed out",
  EPIPE: "connection closed",
  UND_ERR_SOCKET: "connection closed",
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
};

/** A short reason for a failed fetch, from the error code undici puts in `cause`. */
function networkReason(err: unknown): string {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_REASONS[code]) return NETWORK_REASONS[code];
    const nested = (e as { errors?: unknown }).errors;
    if (Array.isArray(nested)) {
      for (const inner of nested) {
        const innerCode = (inner as { code?: unknown } | null)?.code;
        if (typeof innerCode === "string" && NETWORK_REASONS[innerCode]) return NETWORK_REASONS[innerCode];
      }
    }
  }
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
