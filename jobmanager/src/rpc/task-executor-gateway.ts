import type * as grpc from "@grpc/grpc-js";
import {
  rpc,
  type Ack,
  type CancelTaskRequest,
  type CheckpointNotification,
  type FencingToken,
  type OperatorEventRequest,
  type TaskDeploymentDescriptor,
  type TriggerCheckpointRequest,
  type Unfenced,
} from "@riffle/shared";
import { requireLeadership, type LeaderSession } from "../ha/index.js";
import type { TaskExecutorGateway } from "../scheduler/index.js";

/**
 * TaskExecutorService over gRPC for one leadership, one client (one HTTP/2 connection) per TaskManager
 * address. Every command carries the leadership's fencing token, and none is sent once the
 * leadership ended (LEADERSHIP_LOST, checked on the clock: a JobManager resuming from a pause sends
 * nothing), so a deposed leader commands nobody; TaskManagers refuse an older token anyway.
 */
export class GrpcTaskExecutorGateway implements TaskExecutorGateway {
  private readonly clients = new Map<string, grpc.Client>();
  private readonly token: FencingToken;

  /** @param timeoutMs deadline of each call: a TaskManager that takes longer is about to be declared lost anyway. */
  constructor(
    private readonly timeoutMs: number,
    private readonly session: LeaderSession,
  ) {
    this.token = session.token;
  }

  async deployTask(address: string, descriptor: Unfenced<TaskDeploymentDescriptor>): Promise<void> {
    await this.send<TaskDeploymentDescriptor>(address, "DeployTask", { ...descriptor, fencingToken: this.token }, `deploy ${descriptor.executionId}`);
  }

  async cancelTask(address: string, jobId: string, executionId: string): Promise<void> {
    await this.send<CancelTaskRequest>(address, "CancelTask", { executionId, jobId, fencingToken: this.token }, `cancel ${executionId}`);
  }

  async triggerCheckpoint(address: string, request: Unfenced<TriggerCheckpointRequest>): Promise<void> {
    await this.send<TriggerCheckpointRequest>(
      address,
      "TriggerCheckpoint",
      { ...request, fencingToken: this.token },
      `trigger checkpoint ${request.checkpointId}`,
    );
  }

  async notifyCheckpointComplete(address: string, notification: Unfenced<CheckpointNotification>): Promise<void> {
    await this.send<CheckpointNotification>(
      address,
      "NotifyCheckpointComplete",
      { ...notification, fencingToken: this.token },
      `notify the completion of checkpoint ${notification.checkpointId}`,
    );
  }

  async notifyCheckpointAborted(address: string, notification: Unfenced<CheckpointNotification>): Promise<void> {
    await this.send<CheckpointNotification>(
      address,
      "NotifyCheckpointAborted",
      { ...notification, fencingToken: this.token },
      `notify the abort of checkpoint ${notification.checkpointId}`,
    );
  }

  /** Resolves once the event is in the task's mailbox (the TaskManager answers then). */
  async sendOperatorEvent(address: string, request: Unfenced<OperatorEventRequest>): Promise<void> {
    await this.send<OperatorEventRequest>(
      address,
      "SendOperatorEvent",
      { ...request, fencingToken: this.token },
      `send an operator event to ${request.executionId}`,
    );
  }

  disconnect(address: string): void {
    this.clients.get(address)?.close();
    this.clients.delete(address);
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private async send<Req>(address: string, method: string, request: Req, what: string): Promise<void> {
    requireLeadership(this.session, what);
    await rpc.unary<Req, Ack>(this.client(address), method, request, this.timeoutMs);
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
