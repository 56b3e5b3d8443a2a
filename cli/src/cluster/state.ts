import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { RiffleError } from "@riffle/shared";
import type { LocalClusterProcess } from "./local-cluster.js";

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

/** Whether a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether `pid` is alive and still runs `entry` (a riffle process), not a later process that reused
 * the pid. Where /proc is missing (macOS) only liveness is checked.
 */
export function isRiffleProcess(pid: number, entry: string): boolean {
  if (!isAlive(pid)) return false;
  if (!existsSync("/proc/self/cmdline")) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 3, after the parenthesised command name: Z is a zombie, dead but not yet reaped.
    if (/\)\s+Z\s/.test(stat)) return false;
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(entry);
  } catch {
    return false;
  }
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
