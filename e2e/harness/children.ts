import { readFileSync } from "node:fs";
import type { ChildProcess } from "node:child_process";

/**
 * Processes a test started that have not exited. A test that times out skips its `finally` clean-up;
 * its processes must not outlive the test worker and burn the CPU the next test files need.
 */
const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** Kills `child` with SIGKILL when the test worker exits, unless it exited before. */
export function killOnExit(child: ChildProcess): void {
  live.add(child);
  child.on("exit", () => live.delete(child));
}

/** The children of process `pid` (Linux): the process a wrapper such as `unshare --fork` runs. */
export function childrenOf(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
}

/**
 * Resolves once process `pid` (Linux) ended: reaped ("gone"), or a zombie whose threads all ended
 * (only then has the kernel closed its files: a thread group's leader turns Z before its other
 * threads end). Rejects after `timeoutMs`.
 */
export async function waitUntilDead(pid: number, timeoutMs = 10_000): Promise<"gone" | "zombie"> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/status`, "utf8");
    } catch {
      return "gone";
    }
    if (/^State:\s+Z/m.test(status) && /^Threads:\s+1$/m.test(status)) return "zombie";
    if (Date.now() > deadline) throw new Error(`process ${pid} still runs after ${timeoutMs} ms:\n${status}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
