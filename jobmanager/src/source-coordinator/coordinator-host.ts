import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { RiffleError, isErrorCode, type Logger } from "@riffle/shared";
import type { FromCoordinatorWorker, ToCoordinatorWorker } from "./protocol.js";

/** Heap ceiling of one job's coordinator worker: enumerators hold little; a runaway one must not take the JobManager down. */
const COORDINATOR_HEAP_MB = 256;
/** How long a closing worker may take to close its enumerators before it is terminated. */
const CLOSE_TIMEOUT_MS = 5000;

/**
 * The compiled worker next to this module. Under the test runner this module runs from `src/`, where
 * only the TypeScript source exists, so it falls back to the build output in `dist/`.
 */
function workerFile(): URL {
  const beside = new URL("./coordinator-worker.js", import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  return new URL("../../dist/source-coordinator/coordinator-worker.js", import.meta.url);
}

/** The worker's messages the host passes on (it handles snapshot answers, logs and its own closing). */
export type WorkerEvent = Exclude<FromCoordinatorWorker, { type: "snapshot" } | { type: "closed" } | { type: "log" }>;

export interface CoordinatorHostEvents {
  /** Every message of the worker but snapshot answers, in the order the worker sent them. */
  message(msg: WorkerEvent): void;
  /**
   * The worker answered the snapshot of checkpoint n: called before the answer resolves and before the
   * worker's next message is handled, so what the enumerators sent before the snapshot has been handled
   * and what they send after has not.
   */
  snapshotTaken(checkpointId: number): void;
  /** The worker died (an uncaught error in an enumerator's timer, out of memory, exit). */
  crashed(error: RiffleError): void;
}

/** The main thread's side of a job's coordinator worker (coordinator-worker.ts). */
export class CoordinatorHost {
  private readonly worker: Worker;
  private readonly snapshots = new Map<number, { checkpointId: number; resolve(states: Record<string, unknown>): void; reject(err: RiffleError): void }>();
  private nextId = 0;
  /** By vertex id, from the latest snapshot: the splits of the sources whose enumerators know them. */
  splitCounts: Readonly<Record<string, number>> = {};
  private closing: Promise<void> | undefined;
  private gone = false;

  constructor(
    private readonly events: CoordinatorHostEvents,
    private readonly logger: Logger,
  ) {
    this.worker = new Worker(workerFile(), {
      resourceLimits: { maxOldGenerationSizeMb: COORDINATOR_HEAP_MB },
      // An enumerator's prints would corrupt the JSON log on stdout; they go to the log instead.
      stdout: true,
      stderr: true,
    });
    for (const [stream, name] of [
      [this.worker.stdout, "stdout"],
      [this.worker.stderr, "stderr"],
    ] as const) {
      stream.setEncoding("utf8");
      stream.on("data", (text: string) => logger.info({ stream: name, text: text.trimEnd() }, "output of a split enumerator"));
    }
    this.worker.on("message", (msg: FromCoordinatorWorker) => this.onMessage(msg));
    this.worker.on("error", (err: Error & { code?: string }) => {
      const why = err.code === "ERR_WORKER_OUT_OF_MEMORY" ? `it used more than ${COORDINATOR_HEAP_MB} MB of memory` : err.message;
      this.died(new RiffleError("SOURCE_COORDINATOR_FAILED", `the source coordinators of the job crashed: ${why}`, { cause: err }));
    });
    this.worker.on("exit", (code) => {
      if (!this.closing) this.died(new RiffleError("SOURCE_COORDINATOR_FAILED", `the source coordinators of the job exited (code ${code})`));
      this.gone = true;
    });
  }

  post(msg: ToCoordinatorWorker): void {
    if (!this.gone && !this.closing) this.worker.postMessage(msg);
  }

  /** Every enumerator's state for checkpoint n, by the uid of its source operator. */
  snapshot(checkpointId: number): Promise<Record<string, unknown>> {
    if (this.gone || this.closing) return Promise.reject(new RiffleError("SOURCE_COORDINATOR_FAILED", "the source coordinators are not running"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.snapshots.set(id, { checkpointId, resolve, reject });
      this.worker.postMessage({ type: "snapshot", id, checkpointId } satisfies ToCoordinatorWorker);
    });
  }

  /** Closes the enumerators and ends the worker (terminated if it takes longer than a few seconds). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.failSnapshots(new RiffleError("SOURCE_COORDINATOR_FAILED", "the source coordinators are closing"));
      if (this.gone) return;
      const closed = new Promise<void>((resolve) => {
        this.worker.once("exit", () => resolve());
        this.worker.on("message", (msg: FromCoordinatorWorker) => {
          if (msg.type === "closed") resolve();
        });
      });
      this.worker.postMessage({ type: "close" } satisfies ToCoordinatorWorker);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
      });
      await Promise.race([closed, timedOut]);
      clearTimeout(timer);
      await this.worker.terminate();
    })();
    return this.closing;
  }

  private onMessage(msg: FromCoordinatorWorker): void {
    switch (msg.type) {
      case "snapshot": {
        const s = this.snapshots.get(msg.id);
        this.snapshots.delete(msg.id);
        if (!s) return;
        if (msg.states) {
          if (msg.splitCounts) this.splitCounts = msg.splitCounts;
          this.events.snapshotTaken(s.checkpointId);
          s.resolve(msg.states);
        } else {
          const code = msg.error && isErrorCode(msg.error.code) ? msg.error.code : "SOURCE_COORDINATOR_FAILED";
          s.reject(new RiffleError(code, msg.error?.message ?? "no state"));
        }
        return;
      }
      case "closed":
        return;
      case "log":
        if (msg.level === "warn") this.logger.warn(msg.message);
        else this.logger.info(msg.message);
        return;
      default:
        this.events.message(msg);
    }
  }

  private died(error: RiffleError): void {
    if (this.gone) return;
    this.gone = true;
    this.failSnapshots(error);
    this.events.crashed(error);
  }

  private failSnapshots(error: RiffleError): void {
    for (const s of this.snapshots.values()) s.reject(error);
    this.snapshots.clear();
  }
}
