import { RiffleError, isErrorCode } from "@riffle/shared";
import { formatDuration, write } from "../output.js";
import type { OperationResult } from "../rest-client.js";

export interface WaitForOperationOptions {
  /** What is awaited, for messages: "the savepoint of job …". */
  what: string;
  /** Longest wait before giving up with TIMEOUT (the operation itself goes on). */
  deadlineMs: number;
  /** Time between two polls; 250 ms by default. */
  pollIntervalMs?: number;
  /** Time between two progress lines on stderr; 5 s by default. */
  progressEveryMs?: number;
}

/**
 * Polls a savepoint, stop or rescale operation until it completed (the JobManager offers no way to
 * be told). Returns the savepoint's location; a failed operation throws its failure cause as a
 * RiffleError with the JobManager's code.
 */
export async function waitForOperation(poll: () => Promise<OperationResult>, options: WaitForOperationOptions): Promise<string> {
  const pollIntervalMs = options.pollIntervalMs ?? 250;
  const progressEveryMs = options.progressEveryMs ?? 5_000;
  const start = Date.now();
  const deadline = start + options.deadlineMs;
  let nextProgress = start + progressEveryMs;
  for (;;) {
    const state = await poll();
    if (state.status?.id === "COMPLETED") {
      const operation = state.operation;
      if (operation && "location" in operation) return operation.location;
      const cause = operation?.["failure-cause"];
      // Flink's failure cause: `class` holds Riffle's error code, `stack-trace` its message.
      throw new RiffleError(
        isErrorCode(cause?.class) ? cause.class : "INTERNAL",
        cause?.["stack-trace"] ?? `${options.what} failed and the JobManager gave no reason`,
      );
    }
    const now = Date.now();
    if (now >= deadline) {
      throw new RiffleError(
        "TIMEOUT",
        `${options.what} did not complete within ${formatDuration(options.deadlineMs)}; it may still complete (see riffle info)`,
      );
    }
    if (now >= nextProgress) {
      await write(process.stderr, `Still waiting for ${options.what} (${formatDuration(now - start)})...\n`);
      nextProgress += progressEveryMs;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(pollIntervalMs, deadline - now)));
  }
}
