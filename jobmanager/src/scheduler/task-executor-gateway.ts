import type { TaskDeploymentDescriptor } from "@riffle/shared";

/** How the scheduler commands TaskManagers (their TaskExecutorService), addressed by host:port. */
export interface TaskExecutorGateway {
  deployTask(address: string, descriptor: TaskDeploymentDescriptor): Promise<void>;
  cancelTask(address: string, jobId: string, executionId: string): Promise<void>;
  /** Forgets the connection to a TaskManager that is gone. */
  disconnect(address: string): void;
  close(): void;
}
