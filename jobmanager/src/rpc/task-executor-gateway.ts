import type * as grpc from "@grpc/grpc-js";
import {
  rpc,
  type Ack,
  type CancelTaskRequest,
  type CheckpointNotification,
  type OperatorEventRequest,
  type TaskDeploymentDescriptor,
  type TriggerCheckpointRequest,
} from "@riffle/shared";
import type { TaskExecutorGateway } from "../scheduler/index.js";

/** TaskExecutorService over gRPC, one client (one HTTP/2 connection) per TaskManager address. */
export class GrpcTaskExecutorGateway implements TaskExecutorGateway {
  private readonly clients = new Map<string, grpc.Client>();

  /** @param timeoutMs deadline of each call: a TaskManager that takes longer is about to be declared lost anyway. */
  constructor(private readonly timeoutMs: number) {}

  async deployTask(address: string, descriptor: TaskDeploymentDescriptor): Promise<void> {
    await rpc.unary<TaskDeploymentDescriptor, Ack>(this.client(address), "DeployTask", descriptor, this.timeoutMs);
  }

  async cancelTask(address: string, jobId: string, executionId: string): Promise<void> {
    await rpc.unary<CancelTaskRequest, Ack>(this.client(address), "CancelTask", { executionId, jobId }, this.timeoutMs);
  }

  async triggerCheckpoint(address: string, request: TriggerCheckpointRequest): Promise<void> {
    await rpc.unary<TriggerCheckpointRequest, Ack>(this.client(address), "TriggerCheckpoint", request, this.timeoutMs);
  }

  async notifyCheckpointComplete(address: string, notification: CheckpointNotification): Promise<void> {
    await rpc.unary<CheckpointNotification, Ack>(this.client(address), "NotifyCheckpointComplete", notification, this.timeoutMs);
  }

  async notifyCheckpointAborted(address: string, notification: CheckpointNotification): Promise<void> {
    await rpc.unary<CheckpointNotification, Ack>(this.client(address), "NotifyCheckpointAborted", notification, this.timeoutMs);
  }

  /** Resolves once the event is in the task's mailbox (the TaskManager answers then). */
  async sendOperatorEvent(address: string, request: OperatorEventRequest): Promise<void> {
    await rpc.unary<OperatorEventRequest, Ack>(this.client(address), "SendOperatorEvent", request, this.timeoutMs);
  }

  disconnect(address: string): void {
    this.clients.get(address)?.close();
    this.clients.delete(address);
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private client(address: string): grpc.Client {
    let client = this.clients.get(address);
    if (!client) {
      client = rpc.createClient<grpc.Client>("TaskExecutorService", address);
      this.clients.set(address, client);
    }
    return client;
  }
}
