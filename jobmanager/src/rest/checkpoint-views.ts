import { RiffleError } from "@riffle/shared";
import type { CheckpointConfig, CheckpointingStatistics, CheckpointStatistics } from "@riffle/shared/rest-api";
import type { CheckpointCoordinator, CheckpointStatsEntry } from "../checkpoint/index.js";
import type { JobMaster } from "../scheduler/index.js";

/**
 * JSON shapes of /jobs/:id/checkpoints and /jobs/:id/checkpoints/config, after Flink's (snake_case,
 * durations in ms, sizes in bytes). A job without checkpoints answers 404 CHECKPOINTING_DISABLED on
 * both, as Flink does.
 */

export function checkpointStatistics(job: JobMaster): CheckpointingStatistics {
  const s = coordinatorOf(job).stats.snapshot();
  return {
    counts: {
      restored: s.counts.restored,
      total: s.counts.total,
      in_progress: s.counts.inProgress,
      completed: s.counts.completed,
      failed: s.counts.failed,
    },
    summary: { state_size: s.summary.stateSize, end_to_end_duration: s.summary.endToEndDuration },
    latest: {
      completed: s.latest.completed ? checkpointEntry(s.latest.completed) : null,
      savepoint: s.latest.savepoint ? checkpointEntry(s.latest.savepoint) : null,
      failed: s.latest.failed ? checkpointEntry(s.latest.failed) : null,
      restored: s.latest.restored
        ? { id: s.latest.restored.id, restore_timestamp: s.latest.restored.restoreTimestamp, external_path: s.latest.restored.externalPath }
        : null,
    },
    history: s.history.map(checkpointEntry),
  };
}

export function checkpointConfig(job: JobMaster): CheckpointConfig {
  const c = coordinatorOf(job).config;
  return {
    mode: "exactly_once",
    interval: c.intervalMs ?? -1,
    timeout: c.timeoutMs,
    min_pause: c.minPauseMs,
    max_concurrent: 1,
    // Checkpoints are kept when the job is cancelled (the latest `retained`), so a job can start from one.
    externalization: { enabled: true, delete_on_cancellation: false },
    state_backend: job.stateBackend,
    checkpoint_storage: "filesystem",
    unaligned_checkpoints: false,
    tolerable_failed_checkpoints: c.tolerableFailures,
    checkpoints_after_tasks_finish: true,
    retained: c.retained,
    checkpoint_dir: c.jobDir,
  };
}

/**
 * GET /jobs/:id/checkpoints/details/:cid: a checkpoint of the history, or one of the latest kept
 * apart from it (completed, savepoint, failed); NOT_FOUND when the history no longer holds it.
 */
export function checkpointDetails(job: JobMaster, checkpointId: number): CheckpointStatistics {
  const s = coordinatorOf(job).stats.snapshot();
  const found = [...s.history, s.latest.completed, s.latest.savepoint, s.latest.failed].find((e) => e?.id === checkpointId);
  if (!found) {
    throw new RiffleError(
      "NOT_FOUND",
      `job ${job.id} has no checkpoint ${checkpointId} in its history (the latest ${s.history.length} checkpoints and the latest completed, failed and savepoint)`,
    );
  }
  return checkpointEntry(found);
}

function checkpointEntry(e: CheckpointStatsEntry): CheckpointStatistics {
  return {
    id: e.id,
    status: e.status,
    is_savepoint: e.isSavepoint,
    checkpoint_type: e.isSavepoint ? "SAVEPOINT" : "CHECKPOINT",
    trigger_timestamp: e.triggerTimestamp,
    latest_ack_timestamp: e.latestAckTimestamp,
    state_size: e.stateSize,
    end_to_end_duration: e.endToEndDurationMs,
    alignment_duration: e.alignmentDurationMs,
    sync_duration: e.syncDurationMs,
    async_duration: e.asyncDurationMs,
    num_subtasks: e.numSubtasks,
    num_acknowledged_subtasks: e.numAcknowledged,
    external_path: e.externalPath,
    failure_reason: e.failureReason,
    failure_message: e.failureMessage,
    failure_timestamp: e.failureTimestamp,
  };
}

/** A job without a checkpoint interval has a coordinator (for savepoints) but no checkpoints to show. */
function coordinatorOf(job: JobMaster): CheckpointCoordinator {
  if (!job.graph.checkpointing) {
    throw new RiffleError("CHECKPOINTING_DISABLED", `job ${job.id} takes no checkpoints; a job enables them with env.enableCheckpointing(intervalMs)`);
  }
  return job.checkpointCoordinator;
}
