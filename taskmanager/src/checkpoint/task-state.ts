import type { OperatorSpec, TaskStateSnapshot } from "@riffle/shared";
import type { OperatorStateContext } from "@riffle/sdk/internal";

/** A task's state, captured synchronously at a barrier and written out while processing goes on. */
export interface TaskStateCapture {
  /** Writes the captured state under `dir` (the checkpoint's directory); paths in the result are relative to it. */
  write(dir: string): Promise<{ snapshot: TaskStateSnapshot; size: number }>;
  discard(): void;
}

/** The state of every operator of a task: created (or restored) at deployment, snapshotted at barriers. */
export interface TaskStateManager {
  stateFor(operator: OperatorSpec): OperatorStateContext;
  /** The synchronous part of a checkpoint: after the operators put what they hold into their state. */
  capture(checkpointId: number): TaskStateCapture;
  dispose(): Promise<void>;
}
