/**
 * Checkpoints on the JobManager: the per-job coordinator, its settings, storage, statistics, and the
 * assignment of checkpointed state to the subtasks of a restarted job.
 *
 * ```ts
 * const coordinator = new CheckpointCoordinator({ jobId, jobName, graph, config, gateway, storage, clock, logger, job, counter, checkpoints });
 * coordinator.startPeriodic();            // the job is RUNNING
 * coordinator.receiveAcknowledge(ack);    // from JobManagerService.AcknowledgeCheckpoint
 * coordinator.stop("TASK_FAILURE");       // the job restarts
 * const restore = await coordinator.restoreLatest(); // the newest pointer in the store, else the base
 * const savepoint = await coordinator.triggerSavepoint({ targetDir: "/savepoints", terminal: false });
 * const from = readSavepoint(savepoint.path);  // and checkSavepointCompatibility(from, graph, false)
 * ```
 */
export {
  CheckpointCoordinator,
  type CheckpointCoordinatorOptions,
  type CheckpointGateway,
  type CheckpointJobContext,
  type CompletedCheckpoint,
  type CompletedCheckpointPointer,
  type CoordinatorCheckpoints,
  type SavepointRequest,
  type StopReason,
} from "./checkpoint-coordinator.js";
export { CHECKPOINT_FAILURE_REASONS, isCountedFailure, type CheckpointFailureReason } from "./checkpoint-failure-reason.js";
export { checkpointDefaultsFromConfig, resolveCheckpointConfig, type CheckpointConfig, type CheckpointDefaults } from "./checkpoint-config.js";
export { FileSystemCheckpointStorage, METADATA_FILE, type CheckpointStorage } from "./checkpoint-storage.js";
export { CheckpointStatsTracker, HISTORY_SIZE, type CheckpointStatsEntry, type CheckpointStatsSnapshot, type MinAvgMax } from "./checkpoint-stats.js";
export { PendingCheckpoint, type CheckpointStatus, type CheckpointTask } from "./pending-checkpoint.js";
export { assignTaskRestore, type RestoreTarget } from "./restore-assignment.js";
export { buildCheckpointMetadata } from "./checkpoint-metadata.js";
export { calculateCheckpointPlan, type CheckpointPlan } from "./checkpoint-plan.js";
export { checkSavepointCompatibility, readSavepoint, savepointDirName, type CompatibilityResult } from "./savepoint.js";
