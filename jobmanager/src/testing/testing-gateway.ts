import {
  RiffleError,
  type CheckpointNotification,
  type OperatorEventRequest,
  type TaskDeploymentDescriptor,
  type TriggerCheckpointRequest,
} from "@riffle/shared";
import type { TaskExecutorGateway } from "../scheduler/index.js";

/**
 * A TaskExecutorGateway for tests: records every command it is given. Deployments to `failDeployOf`
 * and triggers of `failTriggerOf` fail as an unreachable TaskManager would.
 */
export class TestingTaskExecutorGateway implements TaskExecutorGateway {
  readonly deployed: TaskDeploymentDescriptor[] = [];
  readonly cancelled: string[] = [];
  readonly triggered: TriggerCheckpointRequest[] = [];
  readonly completed: CheckpointNotification[] = [];
  readonly aborted: CheckpointNotification[] = [];
  readonly operatorEvents: OperatorEventRequest[] = [];
  /** Every command in the order it was given: `<method> <executionId>`. */
  readonly calls: string[] = [];
  readonly failDeployOf = new Set<string>();
  readonly failTriggerOf = new Set<string>();

  async deployTask(_address: string, d: TaskDeploymentDescriptor): Promise<void> {
    this.deployed.push(d);
    this.calls.push(`deployTask ${d.executionId}`);
    if (this.failDeployOf.has(d.executionId)) throw new RiffleError("CONNECTION_LOST", "connection refused");
  }

  async cancelTask(_address: string, _jobId: string, executionId: string): Promise<void> {
    this.cancelled.push(executionId);
    this.calls.push(`cancelTask ${executionId}`);
  }

  async triggerCheckpoint(_address: string, request: TriggerCheckpointRequest): Promise<void> {
    this.triggered.push(request);
    this.calls.push(`triggerCheckpoint ${request.executionId}`);
    if (this.failTriggerOf.has(request.executionId)) throw new RiffleError("CONNECTION_LOST", "connection refused");
  }

  async notifyCheckpointComplete(_address: string, notification: CheckpointNotification): Promise<void> {
    this.completed.push(notification);
    this.calls.push(`notifyCheckpointComplete ${notification.executionId}`);
  }

  async notifyCheckpointAborted(_address: string, notification: CheckpointNotification): Promise<void> {
    this.aborted.push(notification);
    this.calls.push(`notifyCheckpointAborted ${notification.executionId}`);
  }

  async sendOperatorEvent(_address: string, request: OperatorEventRequest): Promise<void> {
    this.operatorEvents.push(request);
    this.calls.push(`sendOperatorEvent ${request.executionId}`);
  }

  disconnect(): void {}

  close(): void {}
}
