import { RiffleError } from "@riffle/shared";
import type { JobStatus } from "../store/index.js";

/**
 * The job state machine, all of it in one table:
 *
 *   CREATED ──► RUNNING ───────────────────────────► FINISHED
 *      │        │ ▲ │ ▲ │                               ▲
 *      │        │ │ │ │ └──► STOPPING ──────────────────┘
 *      │        ▼ │ ▼ │
 *      │  RESTARTING RESCALING
 *      │        │      │
 *      ├────────┴──────┴──► FAILING ──► FAILED
 *      └────────┴──────┴──► CANCELLING ──► CANCELED
 *
 *   RESTARTING  a failure the restart strategy allows: cancel every task, wait, redeploy from the
 *               latest checkpoint. Not getting slots in time (NO_RESOURCE_AVAILABLE) is such a
 *               failure, so CREATED and RESCALING lead here too (not drawn), and a restart that
 *               finds no slots stays here for the next one
 *   STOPPING    stop-with-savepoint: the savepoint completed and its sinks committed; the tasks are
 *               being cancelled, and the job ends FINISHED
 *   RESCALING   the savepoint of a rescale completed: cancel every task, redeploy the re-planned
 *               graph at its new parallelism from the savepoint
 *
 * While the savepoint of a stop or rescale is being taken the job stays RUNNING (as in Flink): if
 * the savepoint fails, nothing has changed. RUNNING, RESTARTING and RESCALING lead to FAILING and
 * CANCELLING; RUNNING also goes to CANCELLING after a cancel-with-savepoint.
 */
export const JOB_TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  CREATED: ["RUNNING", "RESTARTING", "FAILING", "CANCELLING"],
  RUNNING: ["FINISHED", "RESTARTING", "STOPPING", "RESCALING", "FAILING", "CANCELLING"],
  RESTARTING: ["RUNNING", "FAILING", "CANCELLING"],
  STOPPING: ["FINISHED"],
  RESCALING: ["RUNNING", "RESTARTING", "FAILING", "CANCELLING"],
  FAILING: ["FAILED"],
  CANCELLING: ["CANCELED"],
  FINISHED: [],
  FAILED: [],
  CANCELED: [],
};

export function isTerminalJobStatus(status: JobStatus): boolean {
  return JOB_TRANSITIONS[status].length === 0;
}

export interface JobTransition {
  from: JobStatus;
  to: JobStatus;
  at: number;
  /** Time spent in `from`. */
  durationMs: number;
}

/** A job's current status and when it entered each one; refuses moves the table does not allow. */
export class JobStatusMachine {
  constructor(
    private current: JobStatus,
    private readonly timestamps: Partial<Record<JobStatus, number>>,
    private readonly now: () => number = Date.now,
  ) {}

  get status(): JobStatus {
    return this.current;
  }

  get isTerminal(): boolean {
    return isTerminalJobStatus(this.current);
  }

  is(...statuses: JobStatus[]): boolean {
    return statuses.includes(this.current);
  }

  /** Moves to `to`; a move the table does not allow is a programming error and throws. */
  transition(to: JobStatus): JobTransition {
    const from = this.current;
    if (!JOB_TRANSITIONS[from].includes(to)) {
      throw new RiffleError("INTERNAL", `illegal job status transition ${from} -> ${to}`);
    }
    const at = this.now();
    const durationMs = at - (this.timestamps[from] ?? at);
    this.current = to;
    this.timestamps[to] = at;
    return { from, to, at, durationMs };
  }
}
