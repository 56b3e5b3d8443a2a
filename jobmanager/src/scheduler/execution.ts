import type { TaskMetricsReport } from "@riffle/shared";
import type { SlotRef } from "../registry/index.js";

/** States of one deployment of one subtask, as in Flink's ExecutionState. */
export type ExecutionState = "SCHEDULED" | "DEPLOYING" | "RUNNING" | "FINISHED" | "CANCELING" | "CANCELED" | "FAILED";

const TERMINAL: ReadonlySet<ExecutionState> = new Set(["FINISHED", "CANCELED", "FAILED"]);

export function isTerminalExecutionState(state: ExecutionState): boolean {
  return TERMINAL.has(state);
}

/** `${jobId}-${vertexId}-${subtask}-${attempt}`: unique per deployment of a subtask. */
export function executionIdOf(jobId: string, vertexId: string, subtask: number, attempt: number): string {
  return `${jobId}-${vertexId}-${subtask}-${attempt}`;
}

export interface ExecutionFailure {
  code: string;
  message: string;
}

/** One subtask of a vertex in one slot: what the scheduler knows of it. */
export interface Execution {
  readonly executionId: string;
  readonly vertexId: string;
  readonly vertexName: string;
  readonly subtask: number;
  readonly parallelism: number;
  readonly attempt: number;
  readonly slot: SlotRef;
  state: ExecutionState;
  /** When the execution entered each state it went through (ms since the epoch). */
  readonly stateTimestamps: Partial<Record<ExecutionState, number>>;
  failure?: ExecutionFailure;
  /** The last metrics its TaskManager reported. */
  metrics?: TaskMetricsReport;
}

/** "Map -> Filter (2/4)": how Flink names a subtask in messages. */
export function taskNameOf(execution: Pick<Execution, "vertexName" | "subtask" | "parallelism">): string {
  return `${execution.vertexName} (${execution.subtask + 1}/${execution.parallelism})`;
}
