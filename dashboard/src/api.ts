/**
 * The dashboard's client of the JobManager's REST API: same origin, the shapes of
 * @riffle/shared/rest-api (types only, so no schema code ships to the browser), errors as ApiError
 * with the API's code and message. Credentials (rest.auth.*) are kept for the browser tab only.
 */
import type { DashboardConfiguration } from "@riffle/shared/rest-api";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  override toString(): string {
    return `error[${this.code}]: ${this.message}`;
  }
}

const AUTH_KEY = "riffle.authorization";
let authorization: string | null = sessionStorage.getItem(AUTH_KEY);

/** Listeners told when the API asks for (other) credentials. */
const unauthorizedListeners = new Set<(err: ApiError) => void>();

export function onUnauthorized(listener: (err: ApiError) => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export type Credentials = { token: string } | { user: string; password: string };

function headerOf(credentials: Credentials): string {
  return "token" in credentials ? `Bearer ${credentials.token}` : `Basic ${btoa(`${credentials.user}:${credentials.password}`)}`;
}

export function setCredentials(credentials: Credentials | null): void {
  authorization = credentials === null ? null : headerOf(credentials);
  if (authorization) sessionStorage.setItem(AUTH_KEY, authorization);
  else sessionStorage.removeItem(AUTH_KEY);
}

/** The role the JobManager gives these credentials (null: not valid), asked before they are kept. */
export async function roleOf(credentials: Credentials): Promise<DashboardConfiguration["auth"]["role"]> {
  const res = await fetch("/config", { headers: { accept: "application/json", authorization: headerOf(credentials) } });
  if (!res.ok) throw new ApiError(res.status, `HTTP_${res.status}`, `GET /config answered ${res.status}`);
  return ((await res.json()) as DashboardConfiguration).auth.role;
}

export function hasCredentials(): boolean {
  return authorization !== null;
}

/** One REST call; resolves with the parsed answer, rejects with an ApiError. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (authorization) headers.authorization = authorization;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch (err) {
    throw new ApiError(0, "JOBMANAGER_UNREACHABLE", `cannot reach the JobManager (${(err as Error).message})`);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === "" ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const e = (parsed ?? {}) as { code?: unknown; message?: unknown };
    const err = new ApiError(
      res.status,
      typeof e.code === "string" ? e.code : `HTTP_${res.status}`,
      typeof e.message === "string" ? e.message : `${method} ${path} answered ${res.status}`,
    );
    if (res.status === 401) for (const l of unauthorizedListeners) l(err);
    throw err;
  }
  return parsed as T;
}

export const get = <T>(path: string) => api<T>("GET", path);

export function loadConfig(): Promise<DashboardConfiguration> {
  return get<DashboardConfiguration>("/config");
}

/** `/jobs/:id/…` with the id encoded. */
export function jobPath(jobId: string, rest = ""): string {
  return `/jobs/${encodeURIComponent(jobId)}${rest}`;
}
