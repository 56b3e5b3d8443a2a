import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";

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
 * the pid; with `args`, only if its command line holds each of them too (`taskmanager.id=<id>`: not
 * another riffle process that got the pid). Where /proc is missing (macOS) only liveness is checked.
 */
export function isRiffleProcess(pid: number, entry: string, args: readonly string[] = []): boolean {
  if (!isAlive(pid)) return false;
  if (!existsSync("/proc/self/cmdline")) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 3, after the parenthesised command name: Z is a zombie, dead but not yet reaped.
    if (/\)\s+Z\s/.test(stat)) return false;
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return argv.includes(entry) && args.every((a) => argv.includes(a));
  } catch {
    return false;
  }
}

/** How a TaskManager process on this machine is started (see {@link taskManagerArgs}). */
export interface TaskManagerLaunch {
  /** The `riffle` CLI script it runs: `node <entry> taskmanager`. */
  entry: string;
  /** The JobManager's gRPC address `host:port`; several, comma-separated, with high availability. */
  jobmanagerAddress: string;
  /** Flags before its own: `--config <file>`, `--set key=value`, ... */
  flags?: readonly string[];
  /** Its `taskmanager.id`, when its starter must know it when it registers (a provider does). */
  id?: string;
}

/**
 * The arguments of `node` for a TaskManager process on this machine: the CLI's `taskmanager` command,
 * pointed at its JobManager, on free ports (several share the machine). The one command line for
 * every starter of TaskManager processes: `riffle run`'s and `riffle cluster start`'s clusters and the
 * JobManager's `process` provider.
 */
export function taskManagerArgs(launch: TaskManagerLaunch): string[] {
  return [
    launch.entry,
    "taskmanager",
    ...(launch.flags ?? []),
    ...(launch.id !== undefined ? ["--set", `taskmanager.id=${launch.id}`] : []),
    "--set",
    `taskmanager.jobmanager.address=${launch.jobmanagerAddress}`,
    "--set",
    "taskmanager.rpc.port=0",
    "--set",
    "taskmanager.metrics.port=0",
  ];
}

/**
 * Starts a process that outlives its starter: detached (its own process group, so a terminal's
 * Ctrl-C reaches only the starter), stdout and stderr appended to `logFile`. Throws when the log
 * file cannot be opened; a command that cannot run is reported by the child's `error` event.
 */
export function spawnIntoLogFile(
  command: string,
  args: readonly string[],
  logFile: string,
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): ChildProcess {
  const fd = openSync(logFile, "a");
  try {
    return spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, detached: true, stdio: ["ignore", fd, fd], windowsHide: true });
  } finally {
    // The child has its own copy of the descriptor.
    closeSync(fd);
  }
}
