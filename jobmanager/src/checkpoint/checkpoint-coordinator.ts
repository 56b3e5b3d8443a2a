import {
  toRiffleError,
  type AcknowledgeCheckpointRequest,
  type CheckpointMetadata,
  type CheckpointNotification,
  type DeclineCheckpointRequest,
  type ErrorCode,
  type JobGraph,
  type Logger,
  type TriggerCheckpointRequest,
} from "@riffle/shared";
import type { Cancel, Clock } from "../clock.js";
import type { CheckpointConfig } from "./checkpoint-config.js";
import { CHECKPOINT_FAILURE_REASONS, isCountedFailure, type CheckpointFailureReason } from "./checkpoint-failure-reason.js";
import { buildCheckpointMetadata, subtaskSnapshot } from "./checkpoint-metadata.js";
import { calculateCheckpointPlan } from "./checkpoint-plan.js";
import { CheckpointStatsTracker } from "./checkpoint-stats.js";
import type { CheckpointStorage } from "./checkpoint-storage.js";
import { PendingCheckpoint, type CarriedSnapshot, type CheckpointTask } from "./pending-checkpoint.js";
import { parseTaskStateSnapshot, snapshotPaths, snapshotSize } from "./task-state.js";

/** The TaskManager commands the coordinator sends, addressed by host:port (part of the TaskExecutorGateway). */
export interface CheckpointGateway {
  triggerCheckpoint(address: string, request: TriggerCheckpointRequest): Promise<void>;
  notifyCheckpointComplete(address: string, notification: CheckpointNotification): Promise<void>;
  notifyCheckpointAborted(address: string, notification: CheckpointNotification): Promise<void>;
}

export interface CompletedCheckpointPointer {
  id: number;
  /** Absolute directory of the checkpoint (holds `_metadata`). */
  path: string;
  timestamp: number;
}

/** What the job record keeps of a job's checkpoints: it survives restarts of the job. */
export interface CheckpointProgress {
  /** Id of the next checkpoint; ids never repeat within a job. */
  nextId: number;
  latest: CompletedCheckpointPointer | null;
}

export interface CompletedCheckpoint extends CompletedCheckpointPointer {
  metadata: CheckpointMetadata;
}

/** What the coordinator needs from its job. */
export interface CheckpointJobContext {
  /** Every subtask of the current attempt. */
  tasks(): CheckpointTask[];
  /** Stores the progress in the job record. */
  persist(progress: CheckpointProgress): void;
  /** More checkpoints failed in a row than the job tolerates: the job fails (and may restart). */
  failJob(failure: { code: ErrorCode; message: string }): void;
}

export interface CheckpointCoordinatorOptions {
  jobId: string;
  jobName: string;
  graph: JobGraph;
  config: CheckpointConfig;
  gateway: CheckpointGateway;
  storage: CheckpointStorage;
  clock: Clock;
  logger: Logger;
  job: CheckpointJobContext;
  /** From the job record; a new job starts at `{ nextId: 1, latest: null }`. */
  progress: CheckpointProgress;
}

/** The failure reasons the job itself causes when it leaves RUNNING. */
export type StopReason = Extract<CheckpointFailureReason, "TASK_FAILURE" | "JOB_STOPPING">;

/**
 * Takes a job's checkpoints (Flink's CheckpointCoordinator): triggers one every interval while the
 * job runs, at most one in flight and never sooner than the minimum pause after the previous one
 * ended; collects the tasks' acknowledgements; seals a checkpoint by writing its `_metadata`; keeps
 * the last N; and fails the job when more checkpoints fail in a row than it tolerates.
 *
 *   trigger ──► tasks snapshot, barriers flow ──► every task acknowledges ──► copy finished tasks'
 *   files, write _metadata, record the pointer, delete old ones, notify complete
 *        └──► timeout / decline / storage error ──► abort, notify aborted, count the failure
 */
export class CheckpointCoordinator {
  readonly stats = new CheckpointStatsTracker();
  private pending: PendingCheckpoint | undefined;
  /** Checkpoints whose _metadata is being written; their directory is theirs to discard. */
  private readonly finalizing = new Set<PendingCheckpoint>();
  /** Retained completed checkpoints, oldest first. */
  private readonly completed: CompletedCheckpoint[] = [];
  private nextId: number;
  private latestPointer: CompletedCheckpointPointer | null;
  private consecutiveFailures = 0;
  private periodic = false;
  private cancelTrigger: Cancel | undefined;
  private lastEndedAt: number | undefined;
  private readonly warnedNoSnapshot = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly logger: Logger;

  constructor(private readonly options: CheckpointCoordinatorOptions) {
    this.nextId = options.progress.nextId;
    this.latestPointer = options.progress.latest;
    this.logger = options.logger;
  }

  get config(): CheckpointConfig {
    return this.options.config;
  }

  get pendingCheckpoint(): PendingCheckpoint | undefined {
    return this.pending;
  }

  /** The latest checkpoint completed while this JobManager ran the job. */
  get latestCompleted(): CompletedCheckpoint | undefined {
    return this.completed[this.completed.length - 1];
  }

  /** The job is RUNNING: the first checkpoint comes one interval from now (and a minimum pause after the last one). */
  startPeriodic(): void {
    if (this.periodic) return;
    this.periodic = true;
    const now = this.options.clock.now();
    const at = Math.max(now + this.config.intervalMs, (this.lastEndedAt ?? 0) + this.config.minPauseMs);
    this.scheduleTrigger(at - now);
  }

  /** The job leaves RUNNING: no more triggers, and the pending checkpoint fails with `reason` (not counted). */
  stop(reason: StopReason): void {
    this.periodic = false;
    this.cancelTrigger?.();
    this.cancelTrigger = undefined;
    const p = this.pending;
    if (p) this.abort(p, reason, `checkpoint ${p.id} was aborted: ${CHECKPOINT_FAILURE_REASONS[reason].message}`);
  }

  /** The JobManager shuts down: timers stop, nothing is aborted or deleted. */
  close(): void {
    this.periodic = false;
    this.cancelTrigger?.();
    this.cancelTrigger = undefined;
    this.pending?.cancelTimeout();
  }

  /** Resolves once no checkpoint is being sealed or deleted. */
  async whenIdle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /**
   * Triggers a checkpoint now; undefined when one is in flight or the tasks are not ready (nothing
   * is counted then). A checkpoint whose directory cannot be created is returned FAILED.
   */
  triggerCheckpoint(): PendingCheckpoint | undefined {
    if (this.pending) {
      this.logger.debug({ pending: this.pending.id }, "not triggering a checkpoint: one is in flight");
      return undefined;
    }
    const plan = calculateCheckpointPlan(this.options.graph, this.options.job.tasks());
    if ("notReady" in plan) {
      this.logger.debug({ why: plan.notReady }, "not triggering a checkpoint now");
      return undefined;
    }
    const { clock, storage, jobId } = this.options;
    const id = this.nextId++;
    this.persist();
    const timestamp = clock.now();
    let dir: string;
    let storageFailure: string | undefined;
    try {
      dir = storage.initializeCheckpoint(id);
    } catch (err) {
      dir = storage.checkpointDir(id);
      storageFailure = toRiffleError(err).message;
    }
    const p = new PendingCheckpoint(
      id,
      timestamp,
      dir,
      false,
      plan.toAcknowledge,
      plan.finished.map((t) => this.carry(t)),
    );
    this.pending = p;
    this.stats.reportPending(p);
    if (storageFailure !== undefined) {
      this.abort(p, "STORAGE_FAILURE", `checkpoint ${id} failed: ${storageFailure}`);
      return p;
    }
    p.cancelTimeout = clock.schedule(() => this.expire(p), this.config.timeoutMs);
    this.logger.info(
      { checkpointId: id, dir, triggered: plan.toTrigger.length, expected: plan.toAcknowledge.length, carried: plan.finished.length },
      `triggering checkpoint ${id} of job ${this.options.jobName}`,
    );
    for (const task of plan.toTrigger) {
      const request: TriggerCheckpointRequest = { jobId, executionId: task.executionId, checkpointId: id, timestamp, isSavepoint: false, targetDir: dir };
      this.options.gateway.triggerCheckpoint(task.address, request).catch((err: unknown) => {
        const why = toRiffleError(err).message;
        this.abort(p, "TRIGGER_FAILURE", `could not trigger checkpoint ${id} at ${task.name} (${task.address}): ${why}`);
      });
    }
    return p;
  }

  receiveAcknowledge(ack: AcknowledgeCheckpointRequest): void {
    const p = this.current(ack.checkpointId, ack.executionId, "acknowledgement");
    if (!p) return;
    const task = p.expectedTask(ack.executionId)!;
    if (p.acknowledged.has(ack.executionId)) {
      this.logger.debug({ checkpointId: p.id, executionId: ack.executionId }, "ignoring a repeated acknowledgement");
      return;
    }
    let snapshot: ReturnType<typeof parseTaskStateSnapshot>;
    try {
      snapshot = parseTaskStateSnapshot(ack.stateJson, task);
    } catch (err) {
      this.abort(p, "INVALID_ACKNOWLEDGEMENT", `${task.name} acknowledged checkpoint ${p.id} with unreadable state: ${(err as Error).message}`);
      return;
    }
    const result = p.acknowledge(ack.executionId, {
      snapshot,
      stateSize: ack.stateSize > 0 ? ack.stateSize : snapshotSize(snapshot),
      syncDurationMs: ack.syncDurationMs,
      asyncDurationMs: ack.asyncDurationMs,
      alignmentDurationMs: ack.alignmentDurationMs,
      at: this.options.clock.now(),
    });
    if (result === "accepted" && p.isFullyAcknowledged) this.track(this.finalize(p));
  }

  receiveDecline(decline: DeclineCheckpointRequest): void {
    const p = this.current(decline.checkpointId, decline.executionId, "decline");
    if (!p) return;
    const task = p.expectedTask(decline.executionId)!;
    const why = [decline.errorCode, decline.errorMessage].filter((s) => s).join(": ") || "no reason given";
    this.abort(p, "DECLINED", `${task.name} declined checkpoint ${p.id}: ${why}`);
  }

  /** A task finished: if the pending checkpoint still waits for it, it never will. */
  taskFinished(executionId: string): void {
    const p = this.pending;
    if (p?.status !== "PENDING" || this.finalizing.has(p)) return;
    const task = p.waitingTasks().find((t) => t.executionId === executionId);
    if (!task) return;
    this.abort(p, "TASK_FINISHED", `${task.name} finished before it acknowledged checkpoint ${p.id}`);
  }

  /** The checkpoint the job restores from now, counted as restored; undefined when there is none. */
  restoreLatest(): CompletedCheckpoint | undefined {
    const latest = this.latestCompleted;
    if (latest) this.stats.reportRestored(latest.id, latest.path, this.options.clock.now());
    return latest;
  }

  /** The pending checkpoint if it is `checkpointId` and expects `executionId`; stale and unknown messages are dropped. */
  private current(checkpointId: number, executionId: string, what: string): PendingCheckpoint | undefined {
    const p = this.pending;
    if (!p || p.id !== checkpointId || p.status !== "PENDING" || this.finalizing.has(p)) {
      this.logger.debug({ checkpointId, executionId, pending: p?.id }, `ignoring a ${what} of a checkpoint that is not in flight`);
      return undefined;
    }
    if (!p.expectedTask(executionId)) {
      this.logger.debug({ checkpointId, executionId }, `ignoring a ${what} from an execution the checkpoint does not wait for`);
      return undefined;
    }
    return p;
  }

  /** A finished task's part: its state in the latest completed checkpoint, which no longer changes. */
  private carry(task: CheckpointTask): CarriedSnapshot {
    const latest = this.latestCompleted;
    if (!latest) {
      if (!this.warnedNoSnapshot.has(task.executionId)) {
        this.warnedNoSnapshot.add(task.executionId);
        this.logger.warn({ executionId: task.executionId }, `${task.name} finished without a completed checkpoint; checkpoints record it without state`);
      }
      return { snapshot: { vertexId: task.vertexId, subtask: task.subtask, operators: [] }, sourceDir: null };
    }
    const vertex = this.options.graph.vertices.find((v) => v.id === task.vertexId);
    const uids = vertex?.operators.map((o) => o.uid) ?? [];
    return { snapshot: subtaskSnapshot(latest.metadata, task.vertexId, uids, task.subtask), sourceDir: latest.path };
  }

  private expire(p: PendingCheckpoint): void {
    const waiting = p.waitingTasks().map((t) => t.name);
    const shown = waiting.slice(0, 5).join(", ") + (waiting.length > 5 ? ` and ${waiting.length - 5} more` : "");
    const detail = waiting.length > 0 ? `; still waiting for ${shown}` : "; its metadata was still being written";
    this.abort(
      p,
      "TIMEOUT",
      `checkpoint ${p.id} expired after ${this.config.timeoutMs} ms with ${p.numAcknowledged} of ${p.numSubtasks} tasks acknowledged${detail}`,
    );
  }

  /** Every task acknowledged: copy the finished tasks' files, then seal the checkpoint with _metadata. */
  private async finalize(p: PendingCheckpoint): Promise<void> {
    this.finalizing.add(p);
    let metadata: CheckpointMetadata;
    try {
      for (const c of p.carried) {
        if (c.sourceDir) await this.options.storage.copyFiles(c.sourceDir, p.dir, snapshotPaths(c.snapshot));
      }
      metadata = buildCheckpointMetadata({
        jobId: this.options.jobId,
        jobName: this.options.jobName,
        checkpointId: p.id,
        timestamp: p.timestamp,
        isSavepoint: p.isSavepoint,
        graph: this.options.graph,
        snapshots: [...[...p.acknowledged.values()].map((a) => a.snapshot), ...p.carried.map((c) => c.snapshot)],
      });
      await this.options.storage.writeMetadata(p.dir, metadata);
    } catch (err) {
      this.finalizing.delete(p);
      if (p.status === "PENDING") this.abort(p, "STORAGE_FAILURE", `checkpoint ${p.id} failed: ${toRiffleError(err).message}`);
      else this.discard(p.dir, p.id);
      return;
    }
    this.finalizing.delete(p);
    if (p.status !== "PENDING") {
      // Aborted while its files were written (timeout, the job stopped): it never counts as completed.
      this.discard(p.dir, p.id);
      return;
    }
    this.complete(p, metadata);
  }

  private complete(p: PendingCheckpoint, metadata: CheckpointMetadata): void {
    const now = this.options.clock.now();
    p.complete(now);
    this.pending = undefined;
    this.consecutiveFailures = 0;
    const completed: CompletedCheckpoint = { id: p.id, path: p.dir, timestamp: p.timestamp, metadata };
    this.completed.push(completed);
    this.latestPointer = { id: p.id, path: p.dir, timestamp: p.timestamp };
    this.persist();
    this.stats.reportCompleted(p, p.dir);
    const size = this.stats.lastCompleted?.stateSize ?? 0;
    this.logger.info(
      { checkpointId: p.id, path: p.dir, stateSize: size, durationMs: now - p.timestamp },
      `completed checkpoint ${p.id} of job ${this.options.jobName} (${size} bytes in ${now - p.timestamp} ms)`,
    );
    // Only now that a newer one is complete may older ones go; the latest is never among them.
    while (this.completed.length > this.config.retained) {
      const old = this.completed.shift()!;
      this.discard(old.path, old.id);
    }
    this.notify("notifyCheckpointComplete", p.id);
    this.ended(p);
  }

  /** Fails the checkpoint if it is still pending; no-op otherwise. */
  private abort(p: PendingCheckpoint, reason: CheckpointFailureReason, message: string): void {
    if (p.status !== "PENDING") return;
    p.fail(reason, message, this.options.clock.now());
    if (this.pending === p) this.pending = undefined;
    this.stats.reportFailed(p);
    const stopping = reason === "TASK_FAILURE" || reason === "JOB_STOPPING";
    if (stopping) this.logger.info({ checkpointId: p.id, reason }, message);
    else this.logger.warn({ checkpointId: p.id, reason }, message);
    // Tasks being cancelled need no notice; running tasks drop what they staged for it.
    if (!stopping) this.notify("notifyCheckpointAborted", p.id);
    if (!this.finalizing.has(p)) this.discard(p.dir, p.id);
    if (isCountedFailure(reason)) this.consecutiveFailures++;
    this.ended(p);
    const tolerable = this.config.tolerableFailures;
    if (isCountedFailure(reason) && this.consecutiveFailures > tolerable) {
      const failed = this.consecutiveFailures;
      this.consecutiveFailures = 0;
      this.options.job.failJob({
        code: "CHECKPOINT_TOLERABLE_FAILURES_EXCEEDED",
        message: `${failed} checkpoints failed in a row, more than the ${tolerable} the job tolerates (execution.checkpointing.tolerable-failed-checkpoints); the last: ${message}`,
      });
    }
  }

  /** A checkpoint ended: the next one comes an interval after its trigger, and a minimum pause after its end. */
  private ended(p: PendingCheckpoint): void {
    const now = this.options.clock.now();
    this.lastEndedAt = now;
    if (!this.periodic) return;
    const at = Math.max(p.timestamp + this.config.intervalMs, now + this.config.minPauseMs);
    this.scheduleTrigger(at - now);
  }

  private scheduleTrigger(delayMs: number): void {
    this.cancelTrigger?.();
    this.cancelTrigger = this.options.clock.schedule(() => {
      this.cancelTrigger = undefined;
      if (!this.periodic || this.pending) return;
      const p = this.triggerCheckpoint();
      // Not ready: look again next interval. Otherwise the checkpoint's end schedules the next.
      if (!p && this.periodic && !this.cancelTrigger) this.scheduleTrigger(this.config.intervalMs);
    }, delayMs);
  }

  private notify(method: "notifyCheckpointComplete" | "notifyCheckpointAborted", checkpointId: number): void {
    for (const task of this.options.job.tasks()) {
      if (task.status === "finished") continue;
      const notification: CheckpointNotification = { jobId: this.options.jobId, executionId: task.executionId, checkpointId };
      this.options.gateway[method](task.address, notification).catch((err: unknown) => {
        this.logger.debug({ checkpointId, executionId: task.executionId, err: toRiffleError(err).message }, `${method} did not reach the task`);
      });
    }
  }

  private discard(dir: string, id: number): void {
    this.track(
      this.options.storage.discard(dir).catch((err: unknown) => {
        this.logger.warn({ checkpointId: id, dir, err: toRiffleError(err).message }, `could not delete the directory of checkpoint ${id}`);
      }),
    );
  }

  private persist(): void {
    try {
      this.options.job.persist({ nextId: this.nextId, latest: this.latestPointer });
    } catch (err) {
      this.logger.error({ err: toRiffleError(err).message }, "could not record checkpoint progress in the job record");
    }
  }

  private track(work: Promise<void>): void {
    const tracked = work
      .catch((err: unknown) => this.logger.error({ err: toRiffleError(err).message }, "checkpoint bookkeeping failed"))
      .finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }
}
