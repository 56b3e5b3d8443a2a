import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";

/**
 * Who a process is, beyond its pid: pids are reused, so a directory named for pid 4242 may belong to
 * a process that died long ago while an unrelated process now has that pid. A process is identified
 * by the machine it runs on, the machine's boot, its pid and its start time.
 *
 * Start times and boot ids come from Linux's /proc. Where there is none they are unknown ("0"), and
 * liveness falls back to the pid alone: a reused pid then keeps a stale directory, never the reverse.
 */
export interface ProcessIdentity {
  /** The host's name, hashed: short, and free of characters a file name cannot hold. */
  host: string;
  /** The kernel's boot id, hashed; "0" when unknown. A different boot means every process of that one is gone. */
  boot: string;
  pid: number;
  /** Start time in clock ticks since boot (field 22 of /proc/<pid>/stat); "0" when unknown. */
  start: string;
}

const UNKNOWN = "0";

function shortHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 8);
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** The start time of process `pid` as /proc reports it, or undefined (no /proc, or no such process). */
export function startTimeOf(pid: number): string | undefined {
  const stat = readOrUndefined(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const start = fields[19];
  return start !== undefined && /^\d+$/.test(start) ? start : undefined;
}

function bootId(): string {
  const id = readOrUndefined("/proc/sys/kernel/random/boot_id");
  return id === undefined ? UNKNOWN : shortHash(id.trim());
}

/** This process's identity. */
export function ownIdentity(): ProcessIdentity {
  return { host: shortHash(hostname()), boot: bootId(), pid: process.pid, start: startTimeOf(process.pid) ?? UNKNOWN };
}

/** Whether a process with this pid exists (one of another user counts: it exists). */
function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether the process `other` names may still run, as seen from `self`. Only meaningful for the same
 * host: a process of another host (a root shared between machines or containers) cannot be checked,
 * and the caller must leave its directory alone.
 */
export function mayBeAlive(other: ProcessIdentity, self: ProcessIdentity = ownIdentity()): boolean {
  if (other.boot !== UNKNOWN && self.boot !== UNKNOWN && other.boot !== self.boot) return false;
  if (!pidExists(other.pid)) return false;
  if (other.start === UNKNOWN) return true;
  const now = startTimeOf(other.pid);
  // The pid exists but started at another time: it was reused by a process that is not the owner.
  return now === undefined || now === other.start;
}
