/** Scheduling and execution of jobs: the job state machine, slots, deployment and task states. */
export { JobMaster, type JobMasterDeps, type ExceptionEntry } from "./job-master.js";
export { JOB_TRANSITIONS, JobStatusMachine, isTerminalJobStatus, type JobTransition } from "./job-status.js";
export { SlotProvider, type SlotPool, type SlotRequest } from "./slot-provider.js";
export { buildDeploymentDescriptors, type DeploymentContext, type Placement } from "./deployment.js";
export { executionIdOf, isTerminalExecutionState, taskNameOf, type Execution, type ExecutionState, type ExecutionFailure } from "./execution.js";
export type { TaskExecutorGateway } from "./task-executor-gateway.js";
