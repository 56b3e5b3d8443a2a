import { RiffleError } from "@riffle/shared";
import type { CheckpointCoordinator, CheckpointStatsEntry } from "../checkpoint/index.js";
import type { JobMaster } from "../scheduler/index.js";

/**
 * JSON shapes of /jobs/:id/checkpoints and /jobs/:id/checkpoints/config, after Flink's (snake_case,
 * durations in ms, sizes in bytes). A job without checkpoints answers 404 CHECKPOINTING_DISABLED on
 * both, as Flink does.
 */

export function checkpointStatistics(job: JobMaster) {
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
      failed: s.latest.failed ? checkpointEntry(s.latest.failed) : null,
      restored: s.latest.restored
        ? { id: s.latest.restored.id, restore_timestamp: s.latest.restored.restoreTimestamp, external_path: s.latest.restored.externalPath }
        : null,
    },
    history: s.history.map(checkpointEntry),
  };
}

export function checkpointConfig(job: JobMaster) {
  const c = coordinatorOf(job).config;
  return {
    mode: "exactly_once",
    interval: c.intervalMs,
    timeout: c.timeoutMs,
    min_pause: c.minPauseMs,
    max_concurrent: 1,
    tolerable_failed_checkpoints: c.tolerableFailures,
    retained: c.retained,
    checkpoint_storage: "filesystem",
    checkpoint_dir: c.jobDir,
    state_backend: job.stateBackend,
  };
}

function checkpointEntry(e: CheckpointStatsEntry) {
  return {
    id: e.id,
    status: e.status,
    is_savepoint: e.isSavepoint,
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
