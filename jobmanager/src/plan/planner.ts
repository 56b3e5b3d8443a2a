import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { RiffleError, isErrorCode, type JobGraph, type Logger } from "@riffle/shared";
import type { PlanReply, PlanRequest } from "./protocol.js";

/** Heap ceiling of one plan worker: building a graph needs little, a runaway job must not take the JobManager down. */
const PLAN_HEAP_MB = 512;

/**
 * The compiled worker next to this module. Under the test runner this module runs from `src/`,
 * where only the TypeScript source exists, so it falls back to the build output in `dist/`.
 */
function workerFile(): URL {
  const beside = new URL("./plan-worker.js", import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  return new URL("../../dist/plan/plan-worker.js", import.meta.url);
}

const UNSETTLED_TOP_LEVEL_AWAIT = 13;

export interface PlanOptions extends PlanRequest {
  timeoutMs: number;
}

/**
 * Builds a job's graph in a worker thread with a time and memory limit. Rejects with the job's
 * error code (JOB_PLAN_FAILED, JOB_NO_DEFAULT_EXPORT, BUNDLE_INVALID, JOB_PLAN_TIMEOUT, ...).
 */
export function planInWorker(options: PlanOptions, logger: Logger): Promise<JobGraph> {
  const { timeoutMs, ...request } = options;
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerFile(), {
      workerData: request,
      resourceLimits: { maxOldGenerationSizeMb: PLAN_HEAP_MB },
      // The job's own prints would corrupt the JSON log on stdout; they go to the log instead.
      stdout: true,
      stderr: true,
    });
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
      void worker.terminate();
    };
    const timer = setTimeout(() => {
      settle(() =>
        reject(
          new RiffleError(
            "JOB_PLAN_TIMEOUT",
            `the job did not finish building its pipeline within ${timeoutMs} ms (jobmanager.plan.timeout); does its default export loop or wait forever?`,
          ),
        ),
      );
    }, timeoutMs);
    for (const [stream, name] of [
      [worker.stdout, "stdout"],
      [worker.stderr, "stderr"],
    ] as const) {
      stream.setEncoding("utf8");
      stream.on("data", (text: string) => logger.debug({ stream: name, text: text.trimEnd() }, "job output while planning"));
    }
    worker.once("message", (reply: PlanReply) => {
      settle(() => {
        if (reply.graph !== undefined) resolve(reply.graph);
        else reject(new RiffleError(isErrorCode(reply.error.code) ? reply.error.code : "JOB_PLAN_FAILED", reply.error.message));
      });
    });
    worker.once("error", (err: Error & { code?: string }) => {
      const outOfMemory = err.code === "ERR_WORKER_OUT_OF_MEMORY";
      settle(() =>
        reject(
          new RiffleError(
            "JOB_PLAN_FAILED",
            outOfMemory
              ? `the job used more than ${PLAN_HEAP_MB} MB of memory while building its pipeline`
              : `building the job's pipeline crashed: ${err.message}`,
            { cause: err },
          ),
        ),
      );
    });
    worker.once("exit", (code) => {
      settle(() =>
        reject(
          // Node exits with 13 when the module's top-level await never settles.
          code === UNSETTLED_TOP_LEVEL_AWAIT
            ? new RiffleError("JOB_PLAN_TIMEOUT", "the job's default export awaits a promise that never settles, so it never finishes building its pipeline")
            : new RiffleError(
                "JOB_PLAN_FAILED",
                `the job exited (code ${code}) while building its pipeline instead of returning; does it call process.exit()?`,
              ),
        ),
      );
    });
  });
}
