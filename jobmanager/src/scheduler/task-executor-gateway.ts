import type { CheckpointNotification, TaskDeploymentDescriptor, TriggerCheckpointRequest, Unfenced } from "@riffle/shared";
import type { CheckpointGateway } from "../checkpoint/index.js";
import type { OperatorEventGateway } from "../source-coordinator/index.js";

/**
 * How the scheduler and the checkpoint coordinator command TaskManagers (their
 * TaskExecutorService), addressed by host:port. The gateway of a leadership attaches its fencing
 * token to every command and refuses to send any once the leadership ended (LEADERSHIP_LOST).
 */
export interface TaskExecutorGateway extends CheckpointGateway, OperatorEventGateway {
  deployTask(address: string, descriptor: Unfenced<TaskDeploymentDescriptor>): Promise<void>;
  cancelTask(address: string, jobId: string, executionId: string): Promise<void>;
  /** Asks a task with no live inputs (a source) to take checkpoint n and send its barrier downstream. */
  triggerCheckpoint(address: string, request: Unfenced<TriggerCheckpointRequest>): Promise<void>;
  /** Checkpoint n is complete: two-phase-commit sinks commit what they staged for it. */
  notifyCheckpointComplete(address: string, notification: Unfenced<CheckpointNotification>): Promise<void>;
  /** Checkpoint n failed: tasks drop what they staged for it. */
  notifyCheckpointAborted(address: string, notification: Unfenced<CheckpointNotification>): Promise<void>;
  /** Forgets the connection to a TaskManager that is gone. */
  disconnect(address: string): void;
  close(): void;
}
