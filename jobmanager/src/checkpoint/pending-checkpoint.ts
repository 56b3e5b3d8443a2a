import { RiffleError, type TaskStateSnapshot } from "@riffle/shared";
import type { Cancel } from "../clock.js";
import type { CheckpointFailureReason } from "./checkpoint-failure-reason.js";

/** A subtask of the current attempt, as the coordinator sees it. */
export interface CheckpointTask {
  executionId: string;
  vertexId: string;
  subtask: number;
  /** "Map (1/2)", for messages. */
  name: string;
  /** host:port of its TaskManager. */
  address: string;
  status: "running" | "finished" | "other";
}

export interface TaskAcknowledgement {
  snapshot: TaskStateSnapshot;
  stateSize: number;
  syncDurationMs: number;
  asyncDurationMs: number;
  alignmentDurationMs: number;
  /** When the acknowledgement arrived. */
  at: number;
}

/** A task that had finished before the trigger: its part is its snapshot in the latest completed checkpoint. */
export interface CarriedSnapshot {
  snapshot: TaskStateSnapshot;
  /** Directory of the checkpoint holding its files; null when it never had a completed checkpoint. */
  sourceDir: string | null;
}

/**
 * A checkpoint's lifecycle, as Flink's PendingCheckpoint → CompletedCheckpoint:
 *
 *   PENDING ──(every task acknowledged, _metadata written)──► COMPLETED
 *      └─────(timeout, decline, storage, task failure, job stopping)──► FAILED
 */
export type CheckpointStatus = "PENDING" | "COMPLETED" | "FAILED";

const TRANSITIONS: Readonly<Record<CheckpointStatus, readonly CheckpointStatus[]>> = {
  PENDING: ["COMPLETED", "FAILED"],
  COMPLETED: [],
  FAILED: [],
};

export type AcknowledgeResult = "accepted" | "duplicate" | "unknown";

/** One checkpoint from its trigger to its end: which tasks acknowledged it, with what. */
export class PendingCheckpoint {
  private current: CheckpointStatus = "PENDING";
  private readonly waitingFor = new Map<string, CheckpointTask>();
  private readonly expected: ReadonlyMap<string, CheckpointTask>;
  readonly acknowledged = new Map<string, TaskAcknowledgement>();
  failure: { reason: CheckpointFailureReason; message: string } | undefined;
  endedAt: number | undefined;
  /** Withdraws the timeout timer; set by the coordinator. */
  cancelTimeout: Cancel = () => {};
  /** The source coordinators' states, by operator uid: taken before the source tasks were triggered. */
  coordinatorStates: Record<string, unknown> | undefined;

  constructor(
    readonly id: number,
    readonly timestamp: number,
    /** Absolute directory the tasks write into. */
    readonly dir: string,
    readonly isSavepoint: boolean,
    expected: readonly CheckpointTask[],
    readonly carried: readonly CarriedSnapshot[],
  ) {
    for (const task of expected) this.waitingFor.set(task.executionId, task);
    this.expected = new Map(this.waitingFor);
  }

  get status(): CheckpointStatus {
    return this.current;
  }

  /** Every subtask of the job at trigger time: the expected ones and the finished ones carried over. */
  get numSubtasks(): number {
    return this.expected.size + this.carried.length;
  }

  get numAcknowledged(): number {
    return this.acknowledged.size + this.carried.length;
  }

  get isFullyAcknowledged(): boolean {
    return this.waitingFor.size === 0;
  }

  expectedTask(executionId: string): CheckpointTask | undefined {
    return this.expected.get(executionId);
  }

  /** Tasks that have not acknowledged yet. */
  waitingTasks(): CheckpointTask[] {
    return [...this.waitingFor.values()];
  }

  acknowledge(executionId: string, ack: TaskAcknowledgement): AcknowledgeResult {
    if (!this.expected.has(executionId)) return "unknown";
    if (!this.waitingFor.delete(executionId)) return "duplicate";
    this.acknowledged.set(executionId, ack);
    return "accepted";
  }

  complete(at: number): void {
    this.move("COMPLETED", at);
  }

  fail(reason: CheckpointFailureReason, message: string, at: number): void {
    this.move("FAILED", at);
    this.failure = { reason, message };
  }

  private move(to: CheckpointStatus, at: number): void {
    if (!TRANSITIONS[this.current].includes(to)) {
      throw new RiffleError("INTERNAL", `illegal checkpoint status transition ${this.current} -> ${to} of checkpoint ${this.id}`);
    }
    this.current = to;
    this.endedAt = at;
    this.cancelTimeout();
  }
}
