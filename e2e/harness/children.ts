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
