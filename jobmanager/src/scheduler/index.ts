/** Scheduling and execution of jobs: the job state machine, restarts, slots, deployment and task states. */
export { JobMaster, type JobMasterDeps, type ExceptionEntry, type SavepointExit } from "./job-master.js";
export { JOB_TRANSITIONS, JobStatusMachine, isTerminalJobStatus, type JobTransition } from "./job-status.js";
export { SlotProvider, type SlotPool, type SlotRequest } from "./slot-provider.js";
export { buildDeploymentDescriptors, type DeploymentContext, type Placement } from "./deployment.js";
export { executionIdOf, isTerminalExecutionState, taskNameOf, type Execution, type ExecutionState, type ExecutionFailure } from "./execution.js";
export { ExecutionGraph } from "./execution-graph.js";
export { jobDefaultsFromConfig, type JobDefaults } from "./job-defaults.js";
export {
  createRestartBackoffStrategy,
  resolveRestartStrategy,
  restartDefaultsFromConfig,
  type ExponentialBackoffDefaults,
  type RestartBackoffStrategy,
  type RestartDecision,
} from "./restart-strategy.js";
export type { TaskExecutorGateway } from "./task-executor-gateway.js";
