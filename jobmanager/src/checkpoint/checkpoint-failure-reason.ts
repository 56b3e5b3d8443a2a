/**
 * Why a checkpoint failed, as Flink's CheckpointFailureReason: a closed set, each with its message
 * and whether it counts towards `execution.checkpointing.tolerable-failed-checkpoints`.
 *
 * Failures caused by the job itself changing (a task failed, the job stops, a task finished first)
 * do not count: the job is already being handled, and counting them would fail it a second time.
 */
export const CHECKPOINT_FAILURE_REASONS = {
  TIMEOUT: { message: "the checkpoint expired before every task acknowledged it", counted: true },
  DECLINED: { message: "a task declined the checkpoint", counted: true },
  STORAGE_FAILURE: { message: "the checkpoint storage could not be written", counted: true },
  INVALID_ACKNOWLEDGEMENT: { message: "a task acknowledged with state the JobManager cannot read", counted: true },
  TRIGGER_FAILURE: { message: "a source task could not be asked to take the checkpoint", counted: false },
  COORDINATOR_FAILURE: { message: "a source coordinator could not take its snapshot", counted: true },
  TASK_FAILURE: { message: "a task of the job failed", counted: false },
  TASK_FINISHED: { message: "a task finished before it acknowledged the checkpoint", counted: false },
  JOB_STOPPING: { message: "the job is stopping", counted: false },
} as const satisfies Record<string, { message: string; counted: boolean }>;

export type CheckpointFailureReason = keyof typeof CHECKPOINT_FAILURE_REASONS;

export function isCountedFailure(reason: CheckpointFailureReason): boolean {
  return CHECKPOINT_FAILURE_REASONS[reason].counted;
}
