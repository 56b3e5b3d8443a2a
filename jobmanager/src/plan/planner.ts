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

export interface WorkerPlannerOptions {
  logger: Logger;
  /** Plans one worker runs before it is replaced: each job module it loads stays in its module cache. */
  maxPlansPerWorker?: number;
  /** Workers kept waiting between plans. */
  maxIdleWorkers?: number;
}

/** One plan worker and how many plans it ran. */
interface PlanWorker {
  worker: Worker;
  plans: number;
  /** Where the job's own prints go: set for the plan in progress. */
  current: { jobName: string } | undefined;
}

/**
 * Builds jobs' graphs in worker threads with a time and memory limit (Flink's JobManager runs a job's
 * main() in its own JVM with a class loader per job; a worker is our isolation). A worker that
 * answered is kept for the next plan — loading the SDK costs about half a second of CPU, a plan a
 * few milliseconds — up to `maxPlansPerWorker` plans, as slot workers are reused (decision record
 * 0006). A worker whose plan timed out, crashed, ran out of memory or exited is never reused.
 * Planning rejects with the job's error code (JOB_PLAN_FAILED, JOB_NO_DEFAULT_EXPORT, BUNDLE_INVALID,
 * JOB_PLAN_TIMEOUT, ...).
 */
export class WorkerPlanner {
  private readonly logger: Logger;
  private readonly maxPlansPerWorker: number;
  private readonly maxIdleWorkers: number;
  private readonly idle: PlanWorker[] = [];
  private readonly busy = new Set<PlanWorker>();
  private started = 0;
  private closed = false;

  constructor(options: WorkerPlannerOptions) {
    this.logger = options.logger;
    this.maxPlansPerWorker = options.maxPlansPerWorker ?? 20;
    this.maxIdleWorkers = options.maxIdleWorkers ?? 1;
  }

  /** Workers started since creation (a reused worker counts once). */
  get workersStarted(): number {
    return this.started;
  }

  plan(options: PlanOptions): Promise<JobGraph> {
    if (this.closed) return Promise.reject(new RiffleError("JOB_PLAN_FAILED", "the JobManager is shutting down"));
    const { timeoutMs, ...request } = options;
    const pw = this.idle.pop() ?? this.spawn();
    this.busy.add(pw);
    pw.current = { jobName: request.buildOptions.name };
    pw.plans++;
    const { worker } = pw;
    worker.ref();
    return new Promise<JobGraph>((resolve, reject) => {
      // Each outcome removes the listeners of the others; only a worker that answered is reused.
      const settle = (reuse: boolean, fn: () => void): void => {
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
        pw.current = undefined;
        this.busy.delete(pw);
        if (reuse) this.release(pw);
        else void worker.terminate();
        fn();
      };
      const timer = setTimeout(() => {
        settle(false, () =>
          reject(
            new RiffleError(
              "JOB_PLAN_TIMEOUT",
              `the job did not finish building its pipeline within ${timeoutMs} ms (jobmanager.plan.timeout); does its default export loop or wait forever?`,
            ),
          ),
        );
      }, timeoutMs);
      const onMessage = (reply: PlanReply): void => {
        settle(true, () => {
          if (reply.graph !== undefined) resolve(reply.graph);
          else reject(new RiffleError(isErrorCode(reply.error.code) ? reply.error.code : "JOB_PLAN_FAILED", reply.error.message));
        });
      };
      const onError = (err: Error & { code?: string }): void => {
        const outOfMemory = err.code === "ERR_WORKER_OUT_OF_MEMORY";
        settle(false, () =>
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
      };
      const onExit = (code: number): void => {
        settle(false, () =>
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
      };
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
      worker.postMessage(request);
    });
  }

  /** Stops every worker; plans in progress fail. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.idle, ...this.busy];
    this.idle.length = 0;
    await Promise.all(all.map((pw) => pw.worker.terminate()));
  }

  private spawn(): PlanWorker {
    const worker = new Worker(workerFile(), {
      resourceLimits: { maxOldGenerationSizeMb: PLAN_HEAP_MB },
      // The job's own prints would corrupt the JSON log on stdout; they go to the log instead.
      stdout: true,
      stderr: true,
    });
    this.started++;
    const pw: PlanWorker = { worker, plans: 0, current: undefined };
    for (const [stream, name] of [
      [worker.stdout, "stdout"],
      [worker.stderr, "stderr"],
    ] as const) {
      stream.setEncoding("utf8");
      stream.on("data", (text: string) => this.logger.debug({ stream: name, job: pw.current?.jobName, text: text.trimEnd() }, "job output while planning"));
    }
    // An idle worker that dies (it should not) is simply dropped; a busy one is handled by its plan.
    worker.on("exit", () => {
      const at = this.idle.indexOf(pw);
      if (at >= 0) this.idle.splice(at, 1);
    });
    return pw;
  }

  private release(pw: PlanWorker): void {
    if (this.closed || pw.plans >= this.maxPlansPerWorker || this.idle.length >= this.maxIdleWorkers) {
      void pw.worker.terminate();
      return;
    }
    // An idle worker must not keep the JobManager's process alive.
    pw.worker.unref();
    this.idle.push(pw);
  }
}
