import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { RiffleError, isRiffleProcess } from "@riffle/shared";
import type { LocalClusterProcess } from "./local-cluster.js";

// In @riffle/shared now: the JobManager's process provider needs them too.
export { isAlive, isRiffleProcess } from "@riffle/shared";

/**
 * `.riffle/cluster.json`: what `riffle cluster start` started, so `riffle cluster stop` (another
 * process, later) can stop it. Written as soon as each process is spawned, so even an interrupted
 * start leaves a record of what to stop.
 */
export const CLUSTER_STATE_FILE = ".riffle/cluster.json";

export interface ClusterState {
  version: 1;
  /** ISO time of the start. */
  startedAt: string;
  /** The CLI entry point the processes run; used to recognise them (pids get reused). */
  entry: string;
  restUrl?: string;
  rpcAddress?: string;
  logDir: string;
  processes: LocalClusterProcess[];
}

export function readClusterState(path = CLUSTER_STATE_FILE): ClusterState | undefined {
  if (!existsSync(path)) return undefined;
  let state: unknown;
  try {
    state = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new RiffleError("INTERNAL", `cannot read ${path}: ${(err as Error).message}. Remove it if no cluster is running.`, { cause: err });
  }
  const s = state as Partial<ClusterState> | null;
  if (s?.version !== 1 || !Array.isArray(s.processes) || typeof s.entry !== "string") {
    throw new RiffleError("INTERNAL", `${path} is not a cluster record of this version of riffle. Remove it if no cluster is running.`);
  }
  return s as ClusterState;
}

/** Writes the record atomically (a reader never sees half of it). */
export function writeClusterState(state: ClusterState, path = CLUSTER_STATE_FILE): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, path);
}

export function removeClusterState(path = CLUSTER_STATE_FILE): void {
  rmSync(path, { force: true });
}

/**
 * Stops a process that is not our child: SIGTERM, poll until it is gone (deadline `timeoutMs`), then
 * SIGKILL and poll again. Returns how it ended.
 */
export async function stopPid(pid: number, entry: string, timeoutMs: number): Promise<"not running" | "stopped" | "killed"> {
  if (!isRiffleProcess(pid, entry)) return "not running";
  signal(pid, "SIGTERM");
  if (await pollUntil(() => !isRiffleProcess(pid, entry), timeoutMs)) return "stopped";
  signal(pid, "SIGKILL");
  if (await pollUntil(() => !isRiffleProcess(pid, entry), 5_000)) return "killed";
  throw new RiffleError("TIMEOUT", `process ${pid} did not exit after SIGKILL`);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone already.
  }
}

/** Checks `condition` every 50 ms until it holds (true) or `timeoutMs` passes (false). */
export async function pollUntil(condition: () => boolean, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (condition()) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, left)));
  }
}
