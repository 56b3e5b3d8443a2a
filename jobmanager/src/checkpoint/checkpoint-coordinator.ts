import { join } from "node:path";
import {
  RiffleError,
  toRiffleError,
  type AcknowledgeCheckpointRequest,
  type CheckpointMetadata,
  type CheckpointNotification,
  type DeclineCheckpointRequest,
  type ErrorCode,
  type JobGraph,
  type Logger,
  type TriggerCheckpointRequest,
  type Unfenced,
} from "@riffle/shared";
import type { Cancel, Clock } from "../clock.js";
import type { CheckpointIdCounter, CheckpointPointer, CompletedCheckpointStore } from "../ha/index.js";
import type { CheckpointConfig } from "./checkpoint-config.js";
import { CHECKPOINT_FAILURE_REASONS, isCountedFailure, type CheckpointFailureReason } from "./checkpoint-failure-reason.js";
import { buildCheckpointMetadata, subtaskSnapshot } from "./checkpoint-metadata.js";
import { calculateCheckpointPlan } from "./checkpoint-plan.js";
import { CheckpointStatsTracker } from "./checkpoint-stats.js";
import type { CheckpointStorage } from "./checkpoint-storage.js";
import { PendingCheckpoint, type CarriedSnapshot, type CheckpointTask } from "./pending-checkpoint.js";
import { readSavepoint, savepointDirName } from "./savepoint.js";
import { parseTaskStateSnapshot, snapshotPaths, snapshotSize } from "./task-state.js";

/**
 * The TaskManager commands the coordinator sends, addressed by host:port (part of the
 * TaskExecutorGateway, which adds the leader's fencing token).
 */
export interface CheckpointGateway {
  triggerCheckpoint(address: string, request: Unfenced<TriggerCheckpointRequest>): Promise<void>;
  notifyCheckpointComplete(address: string, notification: Unfenced<CheckpointNotification>): Promise<void>;
  notifyCheckpointAborted(address: string, notification: Unfenced<CheckpointNotification>): Promise<void>;
}

export interface CompletedCheckpointPointer {
  id: number;
  /** Absolute directory of the checkpoint (holds `_metadata`). */
  path: string;
  timestamp: number;
}

export interface CompletedCheckpoint extends CompletedCheckpointPointer {
  metadata: CheckpointMetadata;
}

/** What the coordinator needs from its job. */
export interface CheckpointJobContext {
  /** Every subtask of the current attempt. */
  tasks(): CheckpointTask[];
  /**
   * A savepoint completed: the job records its id (the newest savepoint stays restorable, so sinks keep
   * what they staged for it; decision record 0007). Awaited before the savepoint is reported complete.
   */
  savepointCompleted(id: number): Promise<void>;
  /** More checkpoints failed in a row than the job tolerates: the job fails (and may restart). */
  failJob(failure: { code: ErrorCode; message: string }): void;
}

/**
 * The job's operator coordinators (its sources' split enumerators), as the checkpoint coordinator
 * sees them (Flink's OperatorCoordinatorCheckpointContext). Their snapshot is taken before the source
 * tasks are triggered and stored in the checkpoint's metadata; events they send to the readers are
 * held back from then until the trigger reached the tasks, so a split is in the coordinators' snapshot
 * or in a reader's, never in both or neither.
 */
export interface CoordinatorCheckpoints {
  /** Whether the job has any: without, checkpoints are triggered at once, as before. */
  readonly active: boolean;
  /**
   * The coordinators' states for checkpoint n, by the uid of their source operator; resolves once the
   * events sent before the snapshot have reached the tasks.
   */
  checkpointCoordinators(checkpointId: number): Promise<Record<string, unknown>>;
  /** Every source task was asked to take checkpoint n (or the checkpoint failed first): events flow again. */
  afterSourceBarrierInjection(checkpointId: number): void;
  notifyCheckpointComplete(checkpointId: number): void;
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
  /** The job's checkpoint ids, shared with its savepoints; an id is taken (awaited) before each trigger. */
  counter: CheckpointIdCounter;
  /**
   * Pointers to the job's retained checkpoints: a checkpoint is complete once its pointer is in here
   * (awaited before any task is told), and restores read the newest pointer from here.
   */
  checkpoints: CompletedCheckpointStore;
  /** The newest checkpoint in `checkpoints` when the coordinator starts (a recovered job's), read by the caller. */
  latest?: CompletedCheckpoint | undefined;
  /** The newest completed savepoint's id, from the job record (decision record 0007). */
  newestSavepointId?: number | undefined;
  /**
   * The savepoint (or checkpoint) the job starts from: restores use it until a newer checkpoint
   * completed. The caller moves the counter past its id.
   */
  base?: CompletedCheckpoint;
  /** The job's source coordinators, whose state checkpoints hold; none by default. */
  coordinators?: CoordinatorCheckpoints;
}

/** A savepoint asked for by a user, or by the job itself on its way to stop or rescale. */
export interface SavepointRequest {
  /** Absolute directory the savepoint's own directory is created in. */
  targetDir: string;
  /**
   * The job leaves RUNNING once the savepoint completed (stop, cancel, rescale). From the request
   * on, no periodic checkpoint is triggered (one taken after the savepoint could commit output the
   * savepoint does not cover); on completion the tasks are told of it, and the promise resolves
   * only once every notification was delivered, so sinks commit before anything is cancelled; and
   * the savepoint becomes what restarts restore, since its output is committed.
   *
   * A savepoint that is not terminal (Flink's intermediate savepoint) is never notified and never
   * restored by a restart: a restart from an older checkpoint would otherwise repeat output the
   * savepoint had committed.
   */
  terminal: boolean;
}

interface SavepointWaiter {
  request: SavepointRequest;
  resolve(savepoint: CompletedCheckpoint): void;
  reject(err: RiffleError): void;
}

/** The failure reasons the job itself causes when it leaves RUNNING. */
export type StopReason = Extract<CheckpointFailureReason, "TASK_FAILURE" | "JOB_STOPPING">;

/**
 * Takes a job's checkpoints (Flink's CheckpointCoordinator): triggers one every interval while the
 * job runs, at most one in flight and never sooner than the minimum pause after the previous one
 * ended; collects the tasks' acknowledgements; seals a checkpoint by writing its `_metadata`; records
 * its pointer in the completed-checkpoint store; keeps the last N; and fails the job when more
 * checkpoints fail in a row than it tolerates.
 *
 *   take an id (counter) ──► trigger ──► tasks snapshot, barriers flow ──► every task acknowledges
 *   ──► copy finished tasks' files, write _metadata ──► add the pointer to the store (the checkpoint
 *   is complete now) ──► notify complete, delete the directories the store dropped
 *        └──► no id / timeout / decline / storage or store error ──► abort, notify aborted, count it
 *
 * The id and the pointer are awaited writes to the HA stores (etcd under high availability): a
 * checkpoint is triggered only with an id the store handed out, so ids never repeat across leaders,
 * and no task hears of a completed checkpoint before a new leader would restore it, so a
 * two-phase-commit sink never commits output that a failover would produce again.
 *
 * Savepoints take the same path into a directory of their own and share the id counter. They wait
 * for the checkpoint in flight (queued, in order), are never deleted, never count as failed
 * checkpoints, and are not the latest checkpoint (see SavepointRequest for the terminal kind).
 */
export class CheckpointCoordinator {
  readonly stats = new CheckpointStatsTracker();
  private pending: PendingCheckpoint | undefined;
  /** A checkpoint or savepoint is waiting for its id: it counts as in flight. */
  private triggering = false;
  /** Checkpoints whose _metadata is being written or whose pointer is being recorded; their directory is theirs to discard. */
  private readonly finalizing = new Set<PendingCheckpoint>();
  /** The newest checkpoint recorded in the store (a terminal savepoint too): what carries finished tasks' state. */
  private latest: CompletedCheckpoint | undefined;
  private newestSavepointId: number | undefined;
  private consecutiveFailures = 0;
  private periodic = false;
  /** Bumped by stop() and close(): a trigger that awaited its id checks it before it goes on (Flink's runIfState). */
  private generation = 0;
  private closed = false;
  private cancelTrigger: Cancel | undefined;
  private lastEndedAt: number | undefined;
  private readonly warnedNoSnapshot = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly logger: Logger;
  private graph: JobGraph;
  /** What the current graph started from; checkpoints older than it are never restored or carried. */
  private base: CompletedCheckpoint | undefined;
  /** Savepoints waiting for the checkpoint in flight, oldest first. */
  private readonly queue: SavepointWaiter[] = [];
  private readonly waiters = new Map<PendingCheckpoint, SavepointWaiter>();
  /** A terminal savepoint was asked for: no periodic checkpoints until it failed. */
  private suspended = false;
  /** Savepoints whose directory could not be created: what is at their path is not theirs to delete. */
  private readonly withoutDir = new WeakSet<PendingCheckpoint>();
  /** Loaded `_metadata` of restored pointers, by path: a restart does not read the same file again. */
  private readonly metadataCache = new Map<string, CompletedCheckpoint>();

  constructor(private readonly options: CheckpointCoordinatorOptions) {
    this.latest = options.latest;
    this.newestSavepointId = options.newestSavepointId;
    this.logger = options.logger;
    this.graph = options.graph;
    this.base = options.base;
    if (options.latest) this.metadataCache.set(options.latest.path, options.latest);
  }

  get config(): CheckpointConfig {
    return this.options.config;
  }

  get pendingCheckpoint(): PendingCheckpoint | undefined {
    return this.pending;
  }

  /** The newest checkpoint this coordinator recorded in the store (or found there at its start). */
  get latestCompleted(): CompletedCheckpoint | undefined {
    return this.latest;
  }

  /** The savepoint or checkpoint the job's current graph started from, if any. */
  get restoreBase(): CompletedCheckpoint | undefined {
    return this.base;
  }

  /**
   * The newest checkpoint or savepoint of the job that completed and may still be restored: the
   * latest checkpoint (retained ones are older), the newest savepoint (never deleted), or what the job
   * started from. A restore keeps what sinks staged for checkpoints up to it (decision record 0007),
   * so a savepoint taken after the checkpoint a failover goes back to stays restorable.
   */
  get retainedUpTo(): number {
    return Math.max(this.latest?.id ?? 0, this.newestSavepointId ?? 0, this.base?.id ?? 0);
  }

  /** Every checkpoint or savepoint triggered so far has an id below this one (ids never repeat within a job). */
  nextCheckpointId(): Promise<number> {
    return this.options.counter.get();
  }

  /**
   * The job is RUNNING: the first checkpoint comes one interval from now (and a minimum pause after
   * the last one). A job without a checkpoint interval takes only savepoints.
   */
  startPeriodic(): void {
    if (this.closed) return;
    this.suspended = false;
    const interval = this.config.intervalMs;
    if (this.periodic || interval === null) return;
    this.periodic = true;
    const now = this.options.clock.now();
    const at = Math.max(now + interval, (this.lastEndedAt ?? 0) + this.config.minPauseMs);
    this.scheduleTrigger(at - now);
  }

  /**
   * The job leaves RUNNING: no more triggers, the pending checkpoint or savepoint fails with
   * `reason` (not counted), and queued savepoints fail with it.
   */
  stop(reason: StopReason): void {
    this.periodic = false;
    this.generation++;
    this.cancelTrigger?.();
    this.cancelTrigger = undefined;
    this.rejectQueued(`the savepoint was not taken: ${CHECKPOINT_FAILURE_REASONS[reason].message}`);
    const p = this.pending;
    if (p) this.abort(p, reason, `${kindOf(p)} ${p.id} was aborted: ${CHECKPOINT_FAILURE_REASONS[reason].message}`);
  }

  /**
   * The JobManager shuts down or lost its leadership: timers stop and nothing more is triggered,
   * recorded, notified, aborted or deleted; waiting savepoints fail.
   */
  close(): void {
    this.closed = true;
    this.periodic = false;
    this.generation++;
    this.cancelTrigger?.();
    this.cancelTrigger = undefined;
    this.pending?.cancelTimeout();
    this.rejectQueued("the savepoint was not taken: the JobManager is shutting down or no longer leads");
    for (const [p, w] of this.waiters) {
      this.waiters.delete(p);
      w.reject(new RiffleError("SAVEPOINT_FAILED", `savepoint ${p.id} did not complete: the JobManager is shutting down or no longer leads`));
    }
  }

  /**
   * The job was rescaled: its next attempt runs `graph`, restoring the terminal savepoint it took on
   * its way (the base). Call only while the job is not RUNNING (nothing is in flight).
   */
  useGraph(graph: JobGraph): void {
    this.graph = graph;
  }

  /**
   * Takes a savepoint into a new directory under `request.targetDir`, after the checkpoint in flight
   * if there is one. Resolves with the completed savepoint; rejects with SAVEPOINT_FAILED (or
   * CHECKPOINT_STORAGE_FAILED for a directory that cannot be written) saying why. A failed savepoint
   * leaves the job and its checkpoints as they were.
   */
  triggerSavepoint(request: SavepointRequest): Promise<CompletedCheckpoint> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new RiffleError("SAVEPOINT_FAILED", `job ${this.options.jobName} is not led by this JobManager any more; no savepoint is taken`));
        return;
      }
      if (this.suspended) {
        reject(
          new RiffleError("OPERATION_IN_PROGRESS", `job ${this.options.jobName} is taking a savepoint to stop or rescale; no other savepoint is taken now`),
        );
        return;
      }
      const waiter: SavepointWaiter = { request, resolve, reject };
      if (request.terminal) {
        this.suspended = true;
        this.cancelTrigger?.();
        this.cancelTrigger = undefined;
      }
      this.queue.push(waiter);
      if (this.pending || this.triggering) {
        const ahead = this.pending ? `${kindOf(this.pending)} ${this.pending.id}` : "the checkpoint being triggered";
        this.logger.info({ pending: this.pending?.id, targetDir: request.targetDir }, `savepoint queued behind ${ahead}`);
        return;
      }
      this.startNextSavepoint();
    });
  }

  /** Resolves once no checkpoint is being triggered, sealed, recorded or deleted. */
  async whenIdle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /**
   * Takes an id and triggers a checkpoint; resolves undefined when one is in flight or the tasks are
   * not ready (no id is taken then), or when no id could be had (logged; the next interval tries
   * again). A checkpoint whose directory cannot be created is returned FAILED.
   */
  triggerCheckpoint(): Promise<PendingCheckpoint | undefined> {
    const work = this.startCheckpoint();
    this.track(work.then(() => {}));
    return work;
  }

  private async startCheckpoint(): Promise<PendingCheckpoint | undefined> {
    if (this.closed) return undefined;
    if (this.pending || this.triggering) {
      this.logger.debug({ pending: this.pending?.id }, "not triggering a checkpoint: one is in flight");
      return undefined;
    }
    if (this.suspended || this.queue.length > 0) {
      this.logger.debug("not triggering a checkpoint: a savepoint goes first");
      return undefined;
    }
    if (!this.ready()) return undefined;
    const generation = this.generation;
    this.triggering = true;
    let id: number;
    try {
      id = await this.options.counter.getAndIncrement();
    } catch (err) {
      this.triggering = false;
      if (generation !== this.generation) return undefined;
      this.logger.warn(
        { err: toRiffleError(err).message },
        `checkpoint of job ${this.options.jobName} not triggered: no checkpoint id could be taken (${toRiffleError(err).message})`,
      );
      this.lastEndedAt = this.options.clock.now();
      this.afterTriggerFailed();
      return undefined;
    } finally {
      this.triggering = false;
    }
    // Whatever happened while the id was taken (the job stopped, a task failed) decides now; the id
    // is then left unused (ids need not be contiguous, only never repeated).
    if (generation !== this.generation || this.pending) return undefined;
    if (this.suspended || this.queue.length > 0) {
      this.afterTriggerFailed();
      return undefined;
    }
    const plan = calculateCheckpointPlan(this.graph, this.options.job.tasks());
    if ("notReady" in plan) {
      this.logger.debug({ why: plan.notReady, checkpointId: id }, "not triggering the checkpoint: the tasks changed while its id was taken");
      this.afterTriggerFailed();
      return undefined;
    }
    const { clock, storage } = this.options;
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
    this.triggerTasks(p, plan.toTrigger);
    return p;
  }

  /**
   * Sends the trigger to every source task, after the source coordinators' snapshot when the job has
   * coordinators (their snapshot first, as in Flink: see CoordinatorCheckpoints).
   */
  private triggerTasks(p: PendingCheckpoint, tasks: readonly CheckpointTask[]): void {
    const coordinators = this.options.coordinators;
    if (!coordinators?.active) {
      void this.sendTriggers(p, tasks);
      return;
    }
    coordinators.checkpointCoordinators(p.id).then(
      (states) => {
        if (p.status !== "PENDING") {
          coordinators.afterSourceBarrierInjection(p.id);
          return;
        }
        p.coordinatorStates = states;
        void this.sendTriggers(p, tasks).finally(() => coordinators.afterSourceBarrierInjection(p.id));
      },
      (err: unknown) => {
        coordinators.afterSourceBarrierInjection(p.id);
        this.abort(p, "COORDINATOR_FAILURE", `the source coordinators could not take ${kindOf(p)} ${p.id}: ${toRiffleError(err).message}`);
      },
    );
  }

  /** Resolves once every trigger was answered or failed (a failed one aborts the checkpoint). */
  private async sendTriggers(p: PendingCheckpoint, tasks: readonly CheckpointTask[]): Promise<void> {
    const { jobId } = this.options;
    await Promise.all(
      tasks.map((task) => {
        const request: Unfenced<TriggerCheckpointRequest> = {
          jobId,
          executionId: task.executionId,
          checkpointId: p.id,
          timestamp: p.timestamp,
          isSavepoint: p.isSavepoint,
          targetDir: p.dir,
        };
        return this.options.gateway.triggerCheckpoint(task.address, request).catch((err: unknown) => {
          const why = toRiffleError(err).message;
          this.abort(p, "TRIGGER_FAILURE", `could not trigger ${kindOf(p)} ${p.id} at ${task.name} (${task.address}): ${why}`);
        });
      }),
    );
  }

  /** Whether the tasks can take a checkpoint now (logged at debug level when not). */
  private ready(): boolean {
    const plan = calculateCheckpointPlan(this.graph, this.options.job.tasks());
    if ("notReady" in plan) {
      this.logger.debug({ why: plan.notReady }, "not triggering a checkpoint now");
      return false;
    }
    return true;
  }

  /** A trigger that never started a checkpoint: savepoints queued meanwhile go, else the next interval tries again. */
  private afterTriggerFailed(): void {
    if (this.queue.length > 0) {
      this.startNextSavepoint();
      return;
    }
    const interval = this.config.intervalMs;
    if (this.periodic && !this.suspended && !this.cancelTrigger && interval !== null) this.scheduleTrigger(interval);
  }

  /** Starts the oldest queued savepoint; when none can start, periodic checkpoints go on. */
  private startNextSavepoint(): void {
    const w = this.queue.shift();
    if (!w) {
      this.resumePeriodic();
      return;
    }
    this.triggering = true;
    this.track(
      this.startSavepoint(w).then((started) => {
        this.triggering = false;
        if (!started && !this.closed) this.startNextSavepoint();
      }),
    );
  }

  /**
   * Takes an id and starts a savepoint; false (the waiter rejected) when the tasks are not ready, a
   * finished task's final state is in no checkpoint (restoring would run it again from its start), or
   * no id could be had.
   */
  private async startSavepoint(w: SavepointWaiter): Promise<boolean> {
    const { clock, storage, jobId, jobName } = this.options;
    const notStartable = (): boolean => {
      const plan = calculateCheckpointPlan(this.graph, this.options.job.tasks());
      if ("notReady" in plan) {
        this.savepointFailed(w, new RiffleError("SAVEPOINT_FAILED", `cannot take a savepoint of job ${jobName} now: ${plan.notReady}`));
        return true;
      }
      if (plan.finished.length > 0 && !this.carrySource()) {
        const names = plan.finished.map((t) => t.name).join(", ");
        this.savepointFailed(
          w,
          new RiffleError("SAVEPOINT_FAILED", `cannot take a savepoint of job ${jobName}: ${names} finished and no completed checkpoint holds its final state`),
        );
        return true;
      }
      return false;
    };
    if (notStartable()) return false;
    const generation = this.generation;
    let id: number;
    try {
      id = await this.options.counter.getAndIncrement();
    } catch (err) {
      this.savepointFailed(w, new RiffleError("SAVEPOINT_FAILED", `savepoint of job ${jobName} not taken: no checkpoint id: ${toRiffleError(err).message}`));
      return false;
    }
    if (generation !== this.generation) {
      this.savepointFailed(w, new RiffleError("SAVEPOINT_FAILED", "the savepoint was not taken: the job left RUNNING while its id was taken"));
      return false;
    }
    if (notStartable()) return false;
    const plan = calculateCheckpointPlan(this.graph, this.options.job.tasks()) as Exclude<ReturnType<typeof calculateCheckpointPlan>, { notReady: string }>;
    const timestamp = clock.now();
    const dir = join(w.request.targetDir, savepointDirName(jobId, id, timestamp));
    const p = new PendingCheckpoint(
      id,
      timestamp,
      dir,
      true,
      plan.toAcknowledge,
      plan.finished.map((t) => this.carry(t)),
    );
    this.pending = p;
    this.waiters.set(p, w);
    this.stats.reportPending(p);
    try {
      storage.initializeSavepoint(dir);
    } catch (err) {
      this.withoutDir.add(p);
      this.abort(p, "STORAGE_FAILURE", `savepoint ${id} failed: ${toRiffleError(err).message}`);
      return true;
    }
    p.cancelTimeout = clock.schedule(() => this.expire(p), this.config.timeoutMs);
    this.logger.info(
      { checkpointId: id, dir, terminal: w.request.terminal, triggered: plan.toTrigger.length, expected: plan.toAcknowledge.length },
      `triggering savepoint ${id} of job ${jobName} into ${dir}`,
    );
    this.triggerTasks(p, plan.toTrigger);
    return true;
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
      this.abort(p, "INVALID_ACKNOWLEDGEMENT", `${task.name} acknowledged ${kindOf(p)} ${p.id} with unreadable state: ${(err as Error).message}`);
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
    this.abort(p, "DECLINED", `${task.name} declined ${kindOf(p)} ${p.id}: ${why}`);
  }

  /** A task finished: if the pending checkpoint still waits for it, it never will. */
  taskFinished(executionId: string): void {
    const p = this.pending;
    if (p?.status !== "PENDING" || this.finalizing.has(p)) return;
    const task = p.waitingTasks().find((t) => t.executionId === executionId);
    if (!task) return;
    this.abort(p, "TASK_FINISHED", `${task.name} finished before it acknowledged ${kindOf(p)} ${p.id}`);
  }

  /**
   * What the job restores from now, counted as restored: the newest checkpoint pointer in the store
   * when it is newer than the base (its `_metadata` read from its directory), else the base (the
   * savepoint it started from), else nothing. Rejects when the store cannot be read or the checkpoint
   * it points at is not whole (the restart fails, and the restart strategy decides).
   */
  async restoreLatest(): Promise<CompletedCheckpoint | undefined> {
    const pointer = await this.options.checkpoints.getLatest();
    const restored = pointer && pointer.id > (this.base?.id ?? 0) ? this.load(pointer) : this.base;
    if (restored) this.stats.reportRestored(restored.id, restored.path, this.options.clock.now());
    return restored;
  }

  /** The checkpoint a pointer names, with its `_metadata`. */
  private load(pointer: CheckpointPointer): CompletedCheckpoint {
    const cached = this.metadataCache.get(pointer.path);
    if (cached?.id === pointer.id) return cached;
    let checkpoint: CompletedCheckpoint;
    try {
      checkpoint = { ...readSavepoint(pointer.path), id: pointer.id, path: pointer.path, timestamp: pointer.timestamp };
    } catch (err) {
      throw new RiffleError(
        "STATE_RESTORE_FAILED",
        `the latest completed checkpoint ${pointer.id} of job ${this.options.jobName} cannot be restored: ${toRiffleError(err).message}`,
        { cause: err },
      );
    }
    this.metadataCache.clear();
    this.metadataCache.set(pointer.path, checkpoint);
    return checkpoint;
  }

  /** The latest completed checkpoint newer than the base: state of the current graph's own run. */
  private carrySource(): CompletedCheckpoint | undefined {
    const latest = this.latest;
    return latest && latest.id > (this.base?.id ?? 0) ? latest : undefined;
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
    const latest = this.carrySource();
    if (!latest) {
      if (!this.warnedNoSnapshot.has(task.executionId)) {
        this.warnedNoSnapshot.add(task.executionId);
        this.logger.warn({ executionId: task.executionId }, `${task.name} finished without a completed checkpoint; checkpoints record it without state`);
      }
      return { snapshot: { vertexId: task.vertexId, subtask: task.subtask, operators: [] }, sourceDir: null };
    }
    const vertex = this.graph.vertices.find((v) => v.id === task.vertexId);
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
      `${kindOf(p)} ${p.id} expired after ${this.config.timeoutMs} ms with ${p.numAcknowledged} of ${p.numSubtasks} tasks acknowledged${detail}`,
    );
  }

  /**
   * Every task acknowledged: copy the finished tasks' files, seal the checkpoint with _metadata, and
   * record its pointer in the store (a terminal savepoint's too: restarts restore it). Only once the
   * store holds the pointer is the checkpoint complete.
   */
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
        graph: this.graph,
        snapshots: [...[...p.acknowledged.values()].map((a) => a.snapshot), ...p.carried.map((c) => c.snapshot)],
        ...(p.coordinatorStates ? { coordinators: p.coordinatorStates } : {}),
      });
      await this.options.storage.writeMetadata(p.dir, metadata);
    } catch (err) {
      this.finalizing.delete(p);
      if (p.status === "PENDING") this.abort(p, "STORAGE_FAILURE", `${kindOf(p)} ${p.id} failed: ${toRiffleError(err).message}`);
      else if (!this.closed) this.discard(p.dir, p.id);
      return;
    }
    if (p.status !== "PENDING" || this.closed) {
      // Aborted while its files were written (timeout, the job stopped): it never counts as completed.
      this.finalizing.delete(p);
      if (!this.closed) this.discard(p.dir, p.id);
      return;
    }
    const completed: CompletedCheckpoint = { id: p.id, path: p.dir, timestamp: p.timestamp, metadata };
    const terminal = p.isSavepoint && this.waiters.get(p)?.request.terminal === true;
    if (p.isSavepoint && !terminal) {
      await this.recordSavepoint(p);
      this.finalizing.delete(p);
      if (this.closed) return;
      if (p.status === "PENDING") this.completeSavepoint(p, completed);
      else this.discard(p.dir, p.id);
      return;
    }
    let dropped: CheckpointPointer[];
    try {
      const pointer: CheckpointPointer = { id: p.id, path: p.dir, timestamp: p.timestamp, ...(terminal ? { savepoint: true } : {}) };
      dropped = await this.options.checkpoints.add(pointer, this.config.retained);
    } catch (err) {
      this.finalizing.delete(p);
      this.recordFailed(p, err);
      return;
    }
    this.finalizing.delete(p);
    this.latest = completed;
    this.metadataCache.set(completed.path, completed);
    if (terminal) await this.recordSavepoint(p);
    // Directories of checkpoints the store let go; savepoints are never deleted.
    for (const old of dropped) if (!old.savepoint && old.path !== p.dir) this.discard(old.path, old.id);
    if (this.closed) return;
    if (p.status !== "PENDING") {
      // Stopped while the pointer was written: the store holds it, so it stays the job's latest checkpoint.
      this.logger.info({ checkpointId: p.id, path: p.dir }, `${kindOf(p)} ${p.id} was recorded as the job stopped; it is kept as the latest`);
      return;
    }
    if (p.isSavepoint) this.completeSavepoint(p, completed);
    else this.complete(p);
  }

  /** A savepoint's id goes to the job record; a failure to write it is logged (the savepoint itself is whole). */
  private async recordSavepoint(p: PendingCheckpoint): Promise<void> {
    this.newestSavepointId = Math.max(this.newestSavepointId ?? 0, p.id);
    try {
      await this.options.job.savepointCompleted(p.id);
    } catch (err) {
      this.logger.warn({ checkpointId: p.id, err: toRiffleError(err).message }, `could not record savepoint ${p.id} in the job record`);
    }
  }

  /**
   * The pointer could not be written: the checkpoint fails. Its directory is deleted only when the
   * store certainly did not take the pointer (LEADERSHIP_LOST: the fenced write was refused;
   * HA_STORAGE_FAILED: etcd answered with an error). An unanswered write (HA_UNAVAILABLE) may have
   * been applied, and a new leader may restore it: its directory stays.
   */
  private recordFailed(p: PendingCheckpoint, err: unknown): void {
    const e = toRiffleError(err);
    const unknownOutcome = e.code === "HA_UNAVAILABLE";
    if (unknownOutcome) this.withoutDir.add(p);
    if (this.closed) return;
    if (p.status === "PENDING") {
      this.abort(p, "STORAGE_FAILURE", `${kindOf(p)} ${p.id} failed: its pointer could not be recorded in the completed-checkpoint store: ${e.message}`);
    } else if (!unknownOutcome) {
      this.discard(p.dir, p.id);
    }
  }

  private complete(p: PendingCheckpoint): void {
    const now = this.options.clock.now();
    p.complete(now);
    this.pending = undefined;
    this.consecutiveFailures = 0;
    this.stats.reportCompleted(p, p.dir);
    const size = this.stats.lastCompleted?.stateSize ?? 0;
    this.logger.info(
      { checkpointId: p.id, path: p.dir, stateSize: size, durationMs: now - p.timestamp },
      `completed checkpoint ${p.id} of job ${this.options.jobName} (${size} bytes in ${now - p.timestamp} ms)`,
    );
    this.options.coordinators?.notifyCheckpointComplete(p.id);
    void this.notify("notifyCheckpointComplete", p.id);
    this.ended(p);
  }

  private completeSavepoint(p: PendingCheckpoint, savepoint: CompletedCheckpoint): void {
    const now = this.options.clock.now();
    p.complete(now);
    this.pending = undefined;
    this.stats.reportCompleted(p, p.dir);
    const size = this.stats.lastCompleted?.stateSize ?? 0;
    const w = this.waiters.get(p);
    this.waiters.delete(p);
    this.logger.info(
      { checkpointId: p.id, path: p.dir, stateSize: size, durationMs: now - p.timestamp, terminal: w?.request.terminal ?? false },
      `completed savepoint ${p.id} of job ${this.options.jobName} at ${p.dir} (${size} bytes in ${now - p.timestamp} ms)`,
    );
    if (w?.request.terminal) {
      this.base = savepoint;
      this.rejectQueued("the savepoint was not taken: the job is stopping with another savepoint");
      this.track(this.notify("notifyCheckpointComplete", p.id).then(() => w.resolve(savepoint)));
    } else {
      w?.resolve(savepoint);
    }
    this.ended(p);
  }

  /** Fails the checkpoint if it is still pending; no-op otherwise. */
  private abort(p: PendingCheckpoint, reason: CheckpointFailureReason, message: string): void {
    if (p.status !== "PENDING" || this.closed) return;
    p.fail(reason, message, this.options.clock.now());
    if (this.pending === p) this.pending = undefined;
    this.stats.reportFailed(p);
    const stopping = reason === "TASK_FAILURE" || reason === "JOB_STOPPING";
    if (stopping) this.logger.info({ checkpointId: p.id, reason }, message);
    else this.logger.warn({ checkpointId: p.id, reason }, message);
    // Tasks being cancelled need no notice; running tasks drop what they staged for it.
    if (!stopping) void this.notify("notifyCheckpointAborted", p.id);
    if (!this.finalizing.has(p) && !this.withoutDir.has(p)) this.discard(p.dir, p.id);
    const w = this.waiters.get(p);
    if (w) {
      this.waiters.delete(p);
      this.savepointFailed(w, new RiffleError(reason === "STORAGE_FAILURE" ? "CHECKPOINT_STORAGE_FAILED" : "SAVEPOINT_FAILED", message));
    }
    // As in Flink, a failed savepoint says nothing about the health of the job's checkpoints.
    const counted = isCountedFailure(reason) && !p.isSavepoint;
    if (counted) this.consecutiveFailures++;
    this.ended(p);
    const tolerable = this.config.tolerableFailures;
    if (counted && this.consecutiveFailures > tolerable) {
      const failed = this.consecutiveFailures;
      this.consecutiveFailures = 0;
      this.options.job.failJob({
        code: "CHECKPOINT_TOLERABLE_FAILURES_EXCEEDED",
        message: `${failed} checkpoints failed in a row, more than the ${tolerable} the job tolerates (execution.checkpointing.tolerable-failed-checkpoints); the last: ${message}`,
      });
    }
  }

  /**
   * A checkpoint or savepoint ended: queued savepoints go next; otherwise the next checkpoint comes
   * an interval after its trigger, and a minimum pause after its end.
   */
  private ended(p: PendingCheckpoint): void {
    const now = this.options.clock.now();
    this.lastEndedAt = now;
    if (this.queue.length > 0) {
      this.startNextSavepoint();
      return;
    }
    const interval = this.config.intervalMs;
    if (!this.periodic || this.suspended || interval === null) return;
    const at = Math.max(p.timestamp + interval, now + this.config.minPauseMs);
    this.scheduleTrigger(at - now);
  }

  /** After a savepoint that never started: periodic checkpoints go on if nothing else will schedule them. */
  private resumePeriodic(): void {
    const interval = this.config.intervalMs;
    if (!this.periodic || this.suspended || interval === null || this.pending || this.triggering || this.cancelTrigger) return;
    const now = this.options.clock.now();
    this.scheduleTrigger(Math.max(0, Math.max((this.lastEndedAt ?? now) + interval, now + this.config.minPauseMs) - now));
  }

  private savepointFailed(w: SavepointWaiter, err: RiffleError): void {
    if (w.request.terminal) this.suspended = false;
    this.logger.warn({ code: err.code, targetDir: w.request.targetDir }, `savepoint failed: ${err.message}`);
    w.reject(err);
  }

  private rejectQueued(message: string): void {
    for (const w of this.queue.splice(0)) this.savepointFailed(w, new RiffleError("SAVEPOINT_FAILED", message));
  }

  private scheduleTrigger(delayMs: number): void {
    this.cancelTrigger?.();
    this.cancelTrigger = this.options.clock.schedule(() => {
      this.cancelTrigger = undefined;
      if (!this.periodic || this.pending || this.triggering) return;
      if (!this.ready()) {
        // Not ready: look again next interval. Otherwise the checkpoint's end schedules the next.
        if (this.periodic && !this.suspended && !this.cancelTrigger && this.config.intervalMs !== null) this.scheduleTrigger(this.config.intervalMs);
        return;
      }
      void this.triggerCheckpoint();
    }, delayMs);
  }

  /** Tells every task that has not finished; resolves once every call was answered or failed. */
  private async notify(method: "notifyCheckpointComplete" | "notifyCheckpointAborted", checkpointId: number): Promise<void> {
    if (this.closed) return;
    const calls = this.options.job
      .tasks()
      .filter((task) => task.status !== "finished")
      .map((task) => {
        const notification: Unfenced<CheckpointNotification> = { jobId: this.options.jobId, executionId: task.executionId, checkpointId };
        return this.options.gateway[method](task.address, notification).catch((err: unknown) => {
          this.logger.debug({ checkpointId, executionId: task.executionId, err: toRiffleError(err).message }, `${method} did not reach the task`);
        });
      });
    await Promise.all(calls);
  }

  private discard(dir: string, id: number): void {
    this.track(
      this.options.storage.discard(dir).catch((err: unknown) => {
        this.logger.warn({ checkpointId: id, dir, err: toRiffleError(err).message }, `could not delete the directory of checkpoint ${id}`);
      }),
    );
  }

  private track(work: Promise<void>): void {
    const tracked = work
      .catch((err: unknown) => this.logger.error({ err: toRiffleError(err).message }, "checkpoint bookkeeping failed"))
      .finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }
}

function kindOf(p: PendingCheckpoint): "savepoint" | "checkpoint" {
  return p.isSavepoint ? "savepoint" : "checkpoint";
}
