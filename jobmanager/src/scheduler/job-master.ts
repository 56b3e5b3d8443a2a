import {
  RiffleError,
  toRiffleError,
  type AcknowledgeCheckpointRequest,
  type DeclineCheckpointRequest,
  type ErrorCode,
  type JobGraph,
  type OperatorEventRequest,
  type Logger,
  type StateBackendName,
  type TaskDeploymentDescriptor,
  type TaskExecutionState,
  type TaskMetricsReport,
  type Unfenced,
} from "@riffle/shared";
import type { CheckpointCoordinator, CheckpointStorage, CompletedCheckpoint } from "../checkpoint/index.js";
import { type Cancel, type Clock, SystemClock } from "../clock.js";
import type { ResultBuffer } from "../collect/index.js";
import type { CheckpointIdCounter, CompletedCheckpointStore, JobStore } from "../ha/index.js";
import type { SlotRef } from "../registry/index.js";
import { JobSourceCoordinators } from "../source-coordinator/index.js";
import type { OperatorEvent } from "@riffle/sdk/internal";
import type { JobFailure, JobRecord, JobStatus } from "../store/index.js";
import { buildDeploymentDescriptors } from "./deployment.js";
import { isTerminalExecutionState, taskNameOf, type Execution, type ExecutionFailure, type ExecutionState } from "./execution.js";
import { ExecutionGraph } from "./execution-graph.js";
import { createJobCheckpointCoordinator, restoreFrom } from "./job-checkpointing.js";
import type { JobDefaults } from "./job-defaults.js";
import { JobStatusMachine, isTerminalJobStatus } from "./job-status.js";
import { createRestartBackoffStrategy, resolveRestartStrategy, type RestartBackoffStrategy } from "./restart-strategy.js";
import type { SlotProvider, SlotRequest } from "./slot-provider.js";
import type { TaskExecutorGateway } from "./task-executor-gateway.js";

/**
 * Where a job goes once the savepoint of a stop completed: FINISHED (stop-with-savepoint),
 * CANCELED (Flink's cancel-with-savepoint), or RUNNING again with `graph` (a rescale: the same job
 * re-planned at a new parallelism, restoring the savepoint).
 */
export type SavepointExit = { type: "stop" } | { type: "cancel" } | { type: "rescale"; graph: JobGraph };

interface StopRequest {
  exit: SavepointExit;
  /** Set once the savepoint completed and the tasks were told. */
  savepoint?: CompletedCheckpoint;
  resolve(savepoint: CompletedCheckpoint): void;
  reject(err: RiffleError): void;
}

/** One entry of a job's exception history. */
export interface ExceptionEntry {
  timestamp: number;
  code: string;
  message: string;
  taskName: string | null;
  taskmanagerId: string | null;
}

export interface JobMasterDeps {
  slots: SlotProvider;
  gateway: TaskExecutorGateway;
  /** The job store of the leadership the job runs under: every record write is fenced by it. */
  jobs: JobStore;
  /** The job's checkpoint ids (HA store). */
  counter: CheckpointIdCounter;
  /** The job's completed checkpoints (HA store): restores read the newest pointer from here. */
  checkpoints: CompletedCheckpointStore;
  results: ResultBuffer;
  /**
   * The job reached a terminal status: the caller records its result and its final record (in that
   * order, so a new leader never runs it again). Without it, the job master writes the record itself.
   */
  jobEnded?(job: JobMaster): void;
  /** How long FAILING/CANCELLING/RESTARTING waits for tasks to confirm they stopped before going on anyway. */
  cancelTimeoutMs: number;
  /** The cluster's defaults for what the graph leaves unset (state backend, checkpoints, restarts). */
  defaults: JobDefaults;
  logger: Logger;
  /** Logger of the job's checkpoint coordinator; defaults to `logger`. */
  checkpointLogger?: Logger;
  /** Time and timers; the system's by default. */
  clock?: Clock;
  /** Storage of the job's checkpoints in `jobDir`; a FileSystemCheckpointStorage by default. */
  checkpointStorage?: (jobDir: string) => CheckpointStorage;
  /** Where the job's bundle is on disk: a job whose sources have split enumerators runs them from it. */
  bundlePath?: (bundleHash: string) => string;
}

/**
 * Runs one job: asks for slots, deploys every subtask, follows the tasks' states and drives the job
 * through its state machine (see job-status.ts) to FINISHED, FAILED or CANCELED. With checkpoints
 * it runs the job's CheckpointCoordinator while RUNNING.
 *
 * A failure while RUNNING goes to the restart strategy. If it allows a restart the job goes
 * RESTARTING: every other task is cancelled, the slots go back, and after the strategy's delay
 * the job asks for slots again (TaskManagers that register later count) and redeploys every
 * subtask as attempt + 1 with its share of the latest completed checkpoint. Otherwise the job goes
 * FAILING → FAILED. Not getting the slots within the slot-request timeout (NO_RESOURCE_AVAILABLE) is
 * such a failure too, whether the job was CREATED or RESTARTING: with restarts left it goes (or
 * stays) RESTARTING and asks again after the next delay, so a checkpointed job outlives a
 * TaskManager that is replaced only minutes later; a job without restarts fails as before. A
 * RESCALING job whose new parallelism gets no slots in time goes back to its previous graph from the
 * rescale's savepoint instead (the rescale fails with NO_RESOURCE_AVAILABLE; the job keeps running).
 *
 * Savepoints: one can be taken while the job runs; a stop or rescale takes one (the job stays
 * RUNNING meanwhile, and a failed savepoint changes nothing), then goes STOPPING → FINISHED, or
 * RESCALING → RUNNING with the new graph, redeploying every subtask from the savepoint. A job
 * started from a savepoint restores it at its first deployment, and at restarts until a checkpoint
 * of its own completed.
 *
 * Every deployment first records its attempt number in the job store (awaited: attempts never
 * repeat, across JobManagers too) and reads what to restore from the completed-checkpoint store.
 * A job master lives as long as its JobManager's leadership: `close()` (the leadership ended, or the
 * JobManager stops) silences it at once, and a new leader takes the job over with `recover()`.
 */
export class JobMaster {
  readonly record: JobRecord;
  readonly results: ResultBuffer;
  readonly exceptions: ExceptionEntry[] = [];
  /** Every job has one: it takes the periodic checkpoints (if the job has any) and the savepoints. */
  readonly checkpointCoordinator: CheckpointCoordinator;
  /** The split enumerators of the job's FLIP-27 sources, when it has any (source-coordinator/). */
  private readonly sources: JobSourceCoordinators | undefined;
  private readonly machine: JobStatusMachine;
  private readonly restartStrategy: RestartBackoffStrategy;
  private current: ExecutionGraph | undefined;
  private slotRequest: SlotRequest | undefined;
  private cancelStopTimer: Cancel | undefined;
  private cancelRestartTimer: Cancel | undefined;
  /** Set when RESTARTING begins; the restart is scheduled with it once every task has stopped. */
  private restartDelayMs: number | undefined;
  /** A stop or rescale with a savepoint, from its request until the job got where it goes. */
  private stopRequest: StopRequest | undefined;
  /** Set while RESCALING: the graph the job is redeployed with once every task has stopped. */
  private rescaleGraph: JobGraph | undefined;
  /** Set while RESCALING once the new graph is in place: the graph it replaced, to go back to when the new one's slots do not come. */
  private rescaledFrom: JobGraph | undefined;
  /** The deployment being prepared (its attempt recorded, its checkpoint read); replaced or dropped when the job moves on. */
  private preparing: object | undefined;
  /** close() was called: the job master no longer acts (its JobManager stops, or no longer leads). */
  private closed = false;
  private readonly clock: Clock;
  private readonly logger: Logger;

  /**
   * Throws JOB_INVALID_GRAPH when the graph's checkpoint or restart settings are out of range.
   * `options.savepoint`: the savepoint the job starts from (checked against the graph already).
   */
  constructor(
    record: JobRecord,
    private readonly deps: JobMasterDeps,
    options: { savepoint?: CompletedCheckpoint | undefined; latest?: CompletedCheckpoint | undefined } = {},
  ) {
    this.record = record;
    this.results = deps.results;
    this.clock = deps.clock ?? SystemClock;
    this.logger = deps.logger;
    this.machine = new JobStatusMachine(record.status, record.statusTimestamps, () => this.clock.now());
    this.restartStrategy = createRestartBackoffStrategy(resolveRestartStrategy(record.graph, deps.defaults.restart));
    this.sources = this.createSourceCoordinators();
    this.checkpointCoordinator = createJobCheckpointCoordinator({
      record,
      gateway: deps.gateway,
      counter: deps.counter,
      checkpoints: deps.checkpoints,
      latest: options.latest,
      defaults: deps.defaults,
      clock: this.clock,
      logger: deps.checkpointLogger ?? deps.logger,
      storage: deps.checkpointStorage,
      executions: () => this.executionList(),
      savepoint: options.savepoint,
      coordinators: this.sources,
      failJob: (failure) => this.failFromCoordinator(failure),
      savepointCompleted: (id) => {
        this.record.newestSavepointId = Math.max(this.record.newestSavepointId ?? 0, id);
        return this.deps.jobs.put(this.record);
      },
    });
    if (this.machine.isTerminal) this.results.end();
  }

  /** A job whose sources have split enumerators gets coordinators for them (not a job that has ended). */
  private createSourceCoordinators(): JobSourceCoordinators | undefined {
    if (this.machine.isTerminal || !JobSourceCoordinators.needed(this.record.graph)) return undefined;
    const bundlePath = this.deps.bundlePath;
    if (!bundlePath) throw new RiffleError("INTERNAL", "this JobManager cannot run split enumerators: it does not say where job bundles are");
    return new JobSourceCoordinators({
      jobId: this.record.id,
      jobName: this.record.name,
      args: this.record.args,
      bundlePath: bundlePath(this.record.bundleHash),
      gateway: this.deps.gateway,
      logger: this.logger,
      failJob: (failure) => this.failFromCoordinator(failure),
      executionEnded: (executionId) => {
        const e = this.current?.get(executionId);
        return e === undefined || isTerminalExecutionState(e.state);
      },
    });
  }

  /** The checkpoint coordinator or a source coordinator fails the job: its restart strategy decides. */
  private failFromCoordinator(failure: { code: ErrorCode; message: string }): void {
    if (this.closed) return;
    this.addException({ ...failure, taskName: null, taskmanagerId: null });
    if (this.machine.is("RUNNING")) this.handleFailure(failure);
  }

  get id(): string {
    return this.record.id;
  }

  get status(): JobStatus {
    return this.machine.status;
  }

  get isTerminal(): boolean {
    return this.machine.isTerminal;
  }

  get graph(): JobGraph {
    return this.record.graph;
  }

  get numRestarts(): number {
    return this.record.numRestarts ?? 0;
  }

  /** By vertex id: the splits each coordinated source reported at the latest checkpoint (for the autoscaler). */
  sourceSplitCounts(): Readonly<Record<string, number>> {
    return this.sources?.splitCounts() ?? {};
  }

  /** A stop or rescale with a savepoint was asked for and has not ended yet. */
  get stopInProgress(): boolean {
    return this.stopRequest !== undefined;
  }

  /** The job's keyed state backend: its own choice, else the cluster's. */
  get stateBackend(): StateBackendName {
    return this.graph.stateBackend ?? this.deps.defaults.stateBackend;
  }

  /** Executions of the current attempt in vertex order, subtasks ascending. */
  executionList(): Execution[] {
    return this.current?.list() ?? [];
  }

  /** Executions the TaskManager should be running now (deployed and not being stopped). */
  activeExecutionIdsOn(taskmanagerId: string): string[] {
    return this.executionList()
      .filter((e) => e.slot.taskmanagerId === taskmanagerId && (e.state === "DEPLOYING" || e.state === "RUNNING"))
      .map((e) => e.executionId);
  }

  /** Asks for slots and deploys once they are there. */
  start(): void {
    if (this.machine.is("CREATED") && !this.closed) this.requestSlots();
  }

  /**
   * Takes over a job of an earlier leader that had not ended (Flink's job recovery on a new leader):
   * a job that was running or restarting restarts from the newest checkpoint in the store (or its
   * savepoint, or from scratch); one that was being cancelled, failed or stopped with a savepoint ends
   * as it was going to. The earlier leader's tasks are cancelled by their TaskManagers, which follow
   * the leader.
   */
  recover(): void {
    if (this.closed || this.machine.isTerminal) return;
    const was = this.status;
    switch (was) {
      case "CANCELLING":
        this.transition("CANCELED", { recovered: true });
        return;
      case "FAILING":
        this.transition("FAILED", { recovered: true });
        return;
      case "STOPPING":
        // The stop's savepoint completed and its sinks committed before the job went STOPPING.
        this.transition("FINISHED", { recovered: true });
        return;
      case "CREATED":
        if (this.record.lastAttempt === undefined) {
          this.start();
          return;
        }
        break;
      default:
        break;
    }
    if (!this.machine.is("RESTARTING")) this.transition("RESTARTING", { recovered: true, was });
    else this.saveRecord();
    this.logger.info(
      { was, nextAttempt: (this.record.lastAttempt ?? -1) + 1 },
      `recovering job ${this.record.name} (${this.id}), which was ${was} under the previous leader`,
    );
    this.requestSlots();
  }

  /** Cancels the job; a job that is already stopping stays on its way, an ended one is refused. */
  cancel(): void {
    if (this.machine.isTerminal) {
      throw new RiffleError("JOB_NOT_RUNNING", `job ${this.id} has already ended (${this.status}); only a job that has not ended can be cancelled`);
    }
    if (!this.machine.is("CREATED", "RUNNING", "RESTARTING", "RESCALING")) return;
    this.withdrawPendingWork();
    this.transition("CANCELLING");
    this.stopExecutions();
  }

  /**
   * Takes a savepoint into a new directory under `targetDir` while the job keeps running. Throws
   * JOB_NOT_RUNNING unless the job is RUNNING; the promise rejects when the savepoint fails.
   */
  triggerSavepoint(targetDir: string): Promise<CompletedCheckpoint> {
    this.requireRunning("have a savepoint taken");
    return this.checkpointCoordinator.triggerSavepoint({ targetDir, terminal: false });
  }

  /**
   * Takes a savepoint into a new directory under `targetDir`, then leaves RUNNING as `exit` says.
   * Resolves with the savepoint once the job got there (FINISHED, CANCELED, or RUNNING again at the
   * new parallelism); rejects when the savepoint fails (the job keeps running as it was) or the job
   * went elsewhere meanwhile. Throws JOB_NOT_RUNNING unless the job is RUNNING, and
   * OPERATION_IN_PROGRESS while another stop or rescale is under way.
   */
  stopWithSavepoint(targetDir: string, exit: SavepointExit): Promise<CompletedCheckpoint> {
    this.requireRunning(exit.type === "rescale" ? "be rescaled" : "be stopped");
    if (this.stopRequest) {
      throw new RiffleError("OPERATION_IN_PROGRESS", `job ${this.id} is already being stopped or rescaled with a savepoint; wait for that to end`);
    }
    return new Promise((resolve, reject) => {
      const request: StopRequest = { exit, resolve, reject };
      this.stopRequest = request;
      this.checkpointCoordinator.triggerSavepoint({ targetDir, terminal: true }).then(
        (savepoint) => this.savepointTaken(request, savepoint),
        (err: unknown) => {
          if (this.stopRequest === request) this.stopRequest = undefined;
          reject(toRiffleError(err));
        },
      );
    });
  }

  /** The savepoint of a stop or rescale completed and the tasks know it: the job leaves RUNNING. */
  private savepointTaken(request: StopRequest, savepoint: CompletedCheckpoint): void {
    if (this.stopRequest !== request) return;
    request.savepoint = savepoint;
    if (!this.machine.is("RUNNING")) {
      this.stopRequest = undefined;
      const then = this.machine.is("RESTARTING") ? "; it restarts from that savepoint" : "";
      request.reject(
        new RiffleError(
          "SAVEPOINT_FAILED",
          `savepoint ${savepoint.path} completed, but job ${this.id} was ${this.status} by then and was not ${request.exit.type === "rescale" ? "rescaled" : "stopped"}${then}`,
        ),
      );
      return;
    }
    const details = { savepoint: savepoint.path };
    switch (request.exit.type) {
      case "stop":
        this.transition("STOPPING", details);
        break;
      case "cancel":
        this.withdrawPendingWork();
        this.transition("CANCELLING", details);
        break;
      case "rescale":
        this.rescaleGraph = request.exit.graph;
        this.transition("RESCALING", { ...details, parallelism: request.exit.graph.vertices.map((v) => `${v.name} (${v.parallelism})`) });
        break;
    }
    this.stopExecutions();
  }

  /** Settles the stop request once the job reached where it was going, or went elsewhere. */
  private settleStopRequest(to: JobStatus): void {
    const request = this.stopRequest;
    if (!request?.savepoint) return;
    const target: JobStatus = request.exit.type === "stop" ? "FINISHED" : request.exit.type === "cancel" ? "CANCELED" : "RUNNING";
    if (to === target) {
      this.stopRequest = undefined;
      request.resolve(request.savepoint);
    } else if (to === "FAILING" || to === "CANCELLING" || isTerminalJobStatus(to)) {
      if (request.exit.type === "cancel" && to === "CANCELLING") return;
      this.stopRequest = undefined;
      const why = to === "FAILING" && this.record.failure ? `: ${this.record.failure.message}` : "";
      request.reject(
        new RiffleError(
          "SAVEPOINT_FAILED",
          `savepoint ${request.savepoint.path} completed, but job ${this.id} went ${to} before it was ${request.exit.type === "rescale" ? "rescaled" : "stopped"}${why}`,
        ),
      );
    }
  }

  /** `what`: "have a savepoint taken", "be stopped", "be rescaled". */
  private requireRunning(what: string): void {
    if (!this.machine.is("RUNNING")) throw new RiffleError("JOB_NOT_RUNNING", `job ${this.id} is ${this.status}; only a RUNNING job can ${what}`);
  }

  /** A TaskManager reported a state change of one of its tasks. */
  updateTaskState(update: TaskExecutionState): void {
    if (this.closed) return;
    const execution = this.current?.get(update.executionId);
    if (!execution || execution.slot.taskmanagerId !== update.taskmanagerId) {
      this.logger.debug(
        { executionId: update.executionId, taskmanagerId: update.taskmanagerId, state: update.state },
        "ignoring state update of an unknown execution",
      );
      return;
    }
    if (update.metrics) execution.metrics = update.metrics;
    if (isTerminalExecutionState(execution.state)) {
      this.logger.debug({ executionId: execution.executionId, state: update.state, current: execution.state }, "ignoring state update of an ended execution");
      return;
    }
    const taskName = taskNameOf(execution);
    const tm = execution.slot.taskmanagerId;
    switch (update.state) {
      case "DEPLOYING":
        return;
      case "RUNNING":
        if (execution.state === "DEPLOYING") this.setExecutionState(execution, "RUNNING");
        return;
      case "FINISHED":
        this.setExecutionState(execution, "FINISHED");
        this.checkpointCoordinator.taskFinished(execution.executionId);
        break;
      case "CANCELED":
        if (execution.state === "CANCELING") {
          this.setExecutionState(execution, "CANCELED");
        } else {
          const detail = update.errorMessage ? `: ${update.errorMessage}` : "";
          this.executionFailed(execution, "CANCELED", {
            code: "TASK_CANCELED",
            message: `${taskName} on TaskManager ${tm} was canceled without a request from the JobManager${detail}`,
          });
          return;
        }
        break;
      case "FAILED":
        this.executionFailed(execution, "FAILED", {
          code: update.errorCode || "TASK_FAILED",
          message: `${taskName} on TaskManager ${tm} failed: ${update.errorMessage || "no reason given"}`,
        });
        return;
      default:
        this.logger.debug({ executionId: execution.executionId, state: update.state }, "ignoring unknown task state");
        return;
    }
    this.afterExecutionEnded(execution);
  }

  /** The TaskManager is gone: its executions failed with it. */
  taskManagerLost(taskmanagerId: string, message: string): void {
    if (this.closed) return;
    const lost = this.executionList().filter((e) => e.slot.taskmanagerId === taskmanagerId && !isTerminalExecutionState(e.state));
    if (lost.length === 0) return;
    const failure: ExecutionFailure = { code: "TASKMANAGER_LOST", message };
    for (const e of lost) {
      e.state = "FAILED";
      e.stateTimestamps.FAILED = this.clock.now();
      e.failure = failure;
      this.addException({ ...failure, taskName: taskNameOf(e), taskmanagerId });
    }
    if (this.machine.is("RUNNING")) this.handleFailure(failure);
    else for (const e of lost) this.afterExecutionEnded(e);
  }

  /** Keeps the report as its execution's latest; false when it is not of the current attempt (ignored). */
  reportMetrics(report: TaskMetricsReport): boolean {
    const execution = this.current?.get(report.executionId);
    if (execution) execution.metrics = report;
    return execution !== undefined;
  }

  acknowledgeCheckpoint(ack: AcknowledgeCheckpointRequest): void {
    if (!this.closed) this.checkpointCoordinator.receiveAcknowledge(ack);
  }

  declineCheckpoint(decline: DeclineCheckpointRequest): void {
    if (!this.closed) this.checkpointCoordinator.receiveDecline(decline);
  }

  /** An event of a source reader of the current attempt for its coordinator; others are dropped. */
  operatorEvent(request: OperatorEventRequest): void {
    const execution = this.current?.get(request.executionId);
    if (this.closed || !execution || isTerminalExecutionState(execution.state) || execution.state === "CANCELING" || !this.sources) {
      this.logger.debug({ executionId: request.executionId }, "ignoring an operator event of an execution that is not running");
      return;
    }
    let event: OperatorEvent;
    try {
      event = JSON.parse(request.eventJson) as OperatorEvent;
    } catch (err) {
      throw new RiffleError("BAD_REQUEST", `the operator event of ${request.executionId} is not JSON: ${(err as Error).message}`);
    }
    this.sources.handleEventFromTask(
      { executionId: execution.executionId, vertexId: execution.vertexId, subtask: execution.subtask, address: execution.slot.address },
      event,
    );
  }

  /**
   * Stops acting, at once: timers, pending requests and the checkpoint coordinator stop, and nothing
   * more is deployed, cancelled, checkpointed or written. Called when the JobManager shuts down or
   * loses its leadership; the job's status stays as recorded, for a new leader to take over.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelStopTimer?.();
    this.withdrawPendingWork();
    this.checkpointCoordinator.close();
    void this.sources?.close();
    const request = this.stopRequest;
    this.stopRequest = undefined;
    request?.reject(new RiffleError("SAVEPOINT_FAILED", `the JobManager shut down before job ${this.id} was stopped`));
    this.results.close();
  }

  /** Asks for as many slots as the widest vertex; the answer is dropped if the job moved on meanwhile. */
  private requestSlots(): void {
    if (this.closed) return;
    const needed = Math.max(...this.graph.vertices.map((v) => v.parallelism));
    const request = this.deps.slots.request(this.id, needed);
    this.slotRequest = request;
    request.promise.then(
      (slots) => {
        if (this.slotRequest !== request || this.closed) {
          this.deps.slots.release(this.id, slots);
          return;
        }
        this.slotRequest = undefined;
        this.deploy(slots);
      },
      (err: unknown) => {
        if (this.slotRequest !== request || this.closed) return;
        this.slotRequest = undefined;
        const e = toRiffleError(err);
        this.addException({ code: e.code, message: e.message, taskName: null, taskmanagerId: null });
        // A rescale whose slots did not come goes back to the parallelism the job had, from the
        // same savepoint: the job keeps running as it was rather than waiting for TaskManagers.
        if (e.code === "NO_RESOURCE_AVAILABLE" && this.machine.is("RESCALING") && this.rescaledFrom) {
          this.rollBackRescale(this.rescaledFrom, e.message);
          return;
        }
        // As Flink's NoResourceAvailableException: a recoverable failure. The slots may come with a
        // TaskManager that joins later, so the restart strategy decides, not the slot timeout alone.
        if (e.code === "NO_RESOURCE_AVAILABLE") this.handleFailure({ code: e.code, message: e.message });
        else this.fail({ code: e.code, message: e.message });
      },
    );
  }

  /**
   * The job has its slots: record the next attempt number (awaited), read what to restore, then
   * deploy every subtask. A failure on the way (the store cannot be written or read, the checkpoint
   * is not whole) goes to the restart strategy like a lack of slots.
   */
  private deploy(slots: SlotRef[]): void {
    if (!this.machine.is("CREATED", "RESTARTING", "RESCALING") || this.closed) {
      this.deps.slots.release(this.id, slots);
      return;
    }
    const attempt = (this.record.lastAttempt ?? -1) + 1;
    this.record.lastAttempt = attempt;
    const token = {};
    this.preparing = token;
    const stillWanted = () => this.preparing === token && !this.closed && this.machine.is("CREATED", "RESTARTING", "RESCALING");
    void (async () => {
      let restored: CompletedCheckpoint | undefined;
      let nextCheckpointId = 1;
      try {
        await this.deps.jobs.put(this.record);
        restored = await this.checkpointCoordinator.restoreLatest();
        nextCheckpointId = await this.checkpointCoordinator.nextCheckpointId();
      } catch (err) {
        if (!stillWanted()) {
          this.deps.slots.release(this.id, slots);
          return;
        }
        this.preparing = undefined;
        this.deps.slots.release(this.id, slots);
        const e = toRiffleError(err);
        this.logger.warn({ attempt, code: e.code, err: e.message }, `could not prepare attempt ${attempt} of job ${this.record.name}`);
        this.addException({ code: e.code, message: e.message, taskName: null, taskmanagerId: null });
        if (e.code === "LEADERSHIP_LOST") return;
        this.handleFailure({ code: e.code, message: e.message });
        return;
      }
      if (!stillWanted()) {
        this.deps.slots.release(this.id, slots);
        return;
      }
      this.preparing = undefined;
      this.deployAttempt(slots, attempt, restored, nextCheckpointId);
    })();
  }

  private deployAttempt(slots: SlotRef[], attempt: number, restored: CompletedCheckpoint | undefined, nextCheckpointId: number): void {
    const executions = new ExecutionGraph(this.id, this.graph, attempt, slots, this.clock.now());
    this.current = executions;
    // The split enumerators are ready (or reset) before any reader can register.
    this.sources?.deploy(this.graph, restored);
    let descriptors: Unfenced<TaskDeploymentDescriptor>[];
    try {
      descriptors = this.descriptors(executions, restored, nextCheckpointId);
    } catch (err) {
      // The latest checkpoint does not fit the job: nothing was deployed, so every execution ends here.
      for (const e of executions.list()) this.setExecutionState(e, "CANCELED");
      this.releaseEndedSlots();
      const e = toRiffleError(err);
      this.addException({ code: e.code, message: e.message, taskName: null, taskmanagerId: null });
      this.fail({ code: e.code, message: e.message });
      return;
    }
    this.logger.info(
      {
        tasks: descriptors.length,
        attempt,
        slots: slots.map((s) => `${s.taskmanagerId}#${s.slotIndex}`),
        ...(restored ? { restoredCheckpoint: restored.id, restoredFrom: restored.path } : {}),
      },
      `deploying ${descriptors.length} tasks of job ${this.record.name}${restored ? ` from ${restored.metadata.isSavepoint ? "savepoint" : "checkpoint"} ${restored.id}` : ""}`,
    );
    this.transition("RUNNING");
    for (const descriptor of descriptors) {
      const execution = executions.get(descriptor.executionId)!;
      this.setExecutionState(execution, "DEPLOYING");
      this.deps.gateway.deployTask(execution.slot.address, descriptor).then(
        () => this.logger.debug({ executionId: execution.executionId }, "task deployed"),
        (err: unknown) => this.deployFailed(execution, err),
      );
    }
    this.checkpointCoordinator.startPeriodic();
  }

  private descriptors(executions: ExecutionGraph, restored: CompletedCheckpoint | undefined, nextCheckpointId: number): Unfenced<TaskDeploymentDescriptor>[] {
    return buildDeploymentDescriptors({
      jobId: this.id,
      jobName: this.record.name,
      bundleHash: this.record.bundleHash,
      args: this.record.args,
      graph: this.graph,
      attempt: executions.attempt,
      stateBackend: this.stateBackend,
      // Tasks of a job without periodic checkpoints do not wait for a final checkpoint at their end.
      checkpointing: this.graph.checkpointing !== undefined,
      locate: (vertexId, subtask) => {
        const e = executions.of(vertexId, subtask);
        return { executionId: e.executionId, taskmanagerId: e.slot.taskmanagerId, address: e.slot.address, slotIndex: e.slot.slotIndex };
      },
      restore: restored ? restoreFrom(this.graph, restored, this.checkpointCoordinator.retainedUpTo) : undefined,
      checkpointHistory: { retainedUpTo: this.checkpointCoordinator.retainedUpTo, nextCheckpointId },
    });
  }

  private deployFailed(execution: Execution, err: unknown): void {
    if (isTerminalExecutionState(execution.state) || this.closed) return;
    const { taskmanagerId, address } = execution.slot;
    this.executionFailed(execution, "FAILED", {
      code: "TASK_DEPLOYMENT_FAILED",
      message: `could not deploy ${taskNameOf(execution)} to TaskManager ${taskmanagerId} (${address}): ${toRiffleError(err).message}`,
    });
  }

  /** An execution ended badly: the first such failure is handled, later ones (the job is stopping) only recorded. */
  private executionFailed(execution: Execution, state: "FAILED" | "CANCELED", failure: ExecutionFailure): void {
    this.setExecutionState(execution, state);
    execution.failure = failure;
    this.addException({ ...failure, taskName: taskNameOf(execution), taskmanagerId: execution.slot.taskmanagerId });
    if (this.machine.is("RUNNING")) this.handleFailure(failure);
    else this.afterExecutionEnded(execution);
  }

  /**
   * A failure while RUNNING, or no slots in time while the job waited for them (CREATED, RESTARTING,
   * RESCALING): restart if the strategy allows, else fail.
   */
  private handleFailure(failure: JobFailure): void {
    if (this.closed) return;
    const decision = this.restartStrategy.onFailure(this.clock.now());
    if (!decision.restart) {
      this.fail(decision.why ? { code: failure.code, message: `${failure.message} (not restarting: ${decision.why})` } : failure);
      return;
    }
    this.record.numRestarts = this.numRestarts + 1;
    this.restartDelayMs = decision.delayMs;
    const details = { cause: failure, delayMs: decision.delayMs, numRestarts: this.numRestarts };
    if (this.machine.is("RESTARTING")) {
      // A restart that found no slots: the job stays RESTARTING and tries again after the new delay.
      this.logger.info(details, `job ${this.record.name} (${this.id}) could not get its slots; restarting again in ${decision.delayMs} ms`);
      this.saveRecord();
    } else {
      this.transition("RESTARTING", details);
    }
    this.stopExecutions();
  }

  private fail(failure: JobFailure): void {
    if (!this.machine.is("CREATED", "RUNNING", "RESTARTING", "RESCALING")) return;
    this.withdrawPendingWork();
    this.record.failure = failure;
    this.transition("FAILING");
    this.stopExecutions();
  }

  /** Drops a pending slot request, a deployment being prepared and the restart timer: the job has moved on. */
  private withdrawPendingWork(): void {
    this.slotRequest?.cancel();
    this.slotRequest = undefined;
    this.preparing = undefined;
    this.cancelRestartTimer?.();
    this.cancelRestartTimer = undefined;
    this.restartDelayMs = undefined;
  }

  /** Cancels every execution that has not ended and waits (bounded) for the tasks to confirm. */
  private stopExecutions(): void {
    for (const e of this.executionList()) {
      if (isTerminalExecutionState(e.state) || e.state === "CANCELING") continue;
      if (e.state === "SCHEDULED") {
        this.setExecutionState(e, "CANCELED");
        continue;
      }
      this.setExecutionState(e, "CANCELING");
      this.deps.gateway.cancelTask(e.slot.address, this.id, e.executionId).catch((err: unknown) => {
        // The task's TaskManager is either gone (its loss ends the execution) or stops it itself.
        this.logger.warn({ executionId: e.executionId, taskmanagerId: e.slot.taskmanagerId, err: toRiffleError(err).message }, "could not cancel task");
      });
    }
    this.cancelStopTimer?.();
    this.cancelStopTimer = undefined;
    this.releaseEndedSlots();
    if (!this.progress() && !(this.current?.allEnded() ?? true)) {
      const status = this.status;
      this.cancelStopTimer = this.clock.schedule(() => this.stopTimedOut(status), this.deps.cancelTimeoutMs);
    }
  }

  private stopTimedOut(status: JobStatus): void {
    this.cancelStopTimer = undefined;
    if (this.status !== status) return;
    const pending = this.executionList().filter((e) => !isTerminalExecutionState(e.state));
    this.logger.warn(
      { executions: pending.map((e) => e.executionId), timeoutMs: this.deps.cancelTimeoutMs },
      `${pending.length} tasks did not confirm they stopped within ${this.deps.cancelTimeoutMs} ms (jobmanager.cancel.timeout); going on anyway`,
    );
    for (const e of pending) this.setExecutionState(e, "CANCELED");
    this.releaseEndedSlots();
    this.progress();
  }

  private afterExecutionEnded(execution: Execution): void {
    this.releaseSlot(execution.subtask);
    this.progress();
  }

  /** Moves the job on when its executions allow; true when the job has ended. */
  private progress(): boolean {
    const ended = this.current?.allEnded() ?? true;
    if (this.machine.is("RUNNING") && this.current?.allFinished()) {
      this.transition("FINISHED");
    } else if (this.machine.is("FAILING") && ended) {
      this.transition("FAILED");
    } else if (this.machine.is("CANCELLING") && ended) {
      this.transition("CANCELED");
    } else if (this.machine.is("RESTARTING") && ended && this.restartDelayMs !== undefined) {
      this.scheduleRestart(this.restartDelayMs);
    } else if (this.machine.is("STOPPING") && ended) {
      this.transition("FINISHED");
    } else if (this.machine.is("RESCALING") && ended && this.rescaleGraph !== undefined) {
      this.redeployRescaled(this.rescaleGraph);
    }
    return this.machine.isTerminal;
  }

  /** Every task of the old parallelism has stopped: switch to the new graph and ask for its slots. */
  private redeployRescaled(graph: JobGraph): void {
    this.rescaleGraph = undefined;
    this.cancelStopTimer?.();
    this.cancelStopTimer = undefined;
    this.releaseEndedSlots();
    this.rescaledFrom = this.record.graph;
    this.record.graph = graph;
    this.checkpointCoordinator.useGraph(graph);
    this.saveRecord();
    this.logger.info(
      { vertices: graph.vertices.map((v) => `${v.name} (${v.parallelism})`), from: this.checkpointCoordinator.restoreBase?.path },
      `every task of job ${this.record.name} stopped; redeploying it at its new parallelism`,
    );
    this.requestSlots();
  }

  /** The rescaled graph's slots did not come in time: redeploy the previous graph from the savepoint, and fail the rescale. */
  private rollBackRescale(previous: JobGraph, why: string): void {
    this.rescaledFrom = undefined;
    this.record.graph = previous;
    this.checkpointCoordinator.useGraph(previous);
    this.saveRecord();
    const savepoint = this.checkpointCoordinator.restoreBase?.path;
    const message = `${why}; job ${this.record.name} goes back to its previous parallelism from savepoint ${savepoint}`;
    this.logger.warn({ vertices: previous.vertices.map((v) => `${v.name} (${v.parallelism})`), from: savepoint }, message);
    const request = this.stopRequest;
    this.stopRequest = undefined;
    request?.reject(new RiffleError("NO_RESOURCE_AVAILABLE", message));
    this.requestSlots();
  }

  /** Every task of the failed attempt has stopped: after the strategy's delay, ask for slots again. */
  private scheduleRestart(delayMs: number): void {
    this.restartDelayMs = undefined;
    this.cancelStopTimer?.();
    this.cancelStopTimer = undefined;
    this.releaseEndedSlots();
    const attempt = this.current?.attempt ?? 0;
    this.logger.info({ delayMs, nextAttempt: attempt + 1 }, `every task of job ${this.record.name} stopped; restarting in ${delayMs} ms`);
    this.cancelRestartTimer = this.clock.schedule(() => {
      this.cancelRestartTimer = undefined;
      // Flink's runIfState: act only if the job is still in the restart this timer was set for.
      if (this.closed || !this.machine.is("RESTARTING") || (this.current?.attempt ?? 0) !== attempt) return;
      this.requestSlots();
    }, delayMs);
  }

  private releaseEndedSlots(): void {
    const slots = this.current?.takeEndedSlots() ?? [];
    if (slots.length > 0) this.deps.slots.release(this.id, slots);
  }

  private releaseSlot(index: number): void {
    const slot = this.current?.takeSlotIfEnded(index);
    if (slot) this.deps.slots.release(this.id, [slot]);
  }

  private setExecutionState(execution: Execution, state: ExecutionState): void {
    if (execution.state === state) return;
    this.logger.debug({ executionId: execution.executionId, from: execution.state, to: state }, "task state changed");
    execution.state = state;
    execution.stateTimestamps[state] = this.clock.now();
  }

  private addException(entry: Omit<ExceptionEntry, "timestamp">): void {
    this.exceptions.push({ timestamp: this.clock.now(), ...entry });
  }

  private transition(to: JobStatus, details: Record<string, unknown> = {}): void {
    if (this.closed) return;
    const t = this.machine.transition(to);
    this.record.status = to;
    if (t.from === "RESCALING") this.rescaledFrom = undefined;
    const fields: Record<string, unknown> = { from: t.from, to: t.to, msInPrevious: t.durationMs, ...details };
    if (to === "FAILING" || to === "FAILED") fields.failure = this.record.failure;
    this.logger.info(fields, `job ${this.record.name} (${this.id}) switched from ${t.from} to ${t.to}`);
    // Checkpoints are taken only while RUNNING; leaving it aborts the one in flight.
    if (t.from === "RUNNING") this.checkpointCoordinator.stop(to === "RESTARTING" || to === "FAILING" ? "TASK_FAILURE" : "JOB_STOPPING");
    // The readers of the attempt are going: the split enumerators send them nothing more.
    if (t.from === "RUNNING") this.sources?.attemptEnded();
    if (this.machine.isTerminal) {
      void this.sources?.close();
      this.cancelStopTimer?.();
      this.cancelStopTimer = undefined;
      this.record.endTime = t.at;
      this.releaseEndedSlots();
      this.results.end();
    }
    if (this.machine.isTerminal && this.deps.jobEnded) this.deps.jobEnded(this);
    else this.saveRecord();
    this.settleStopRequest(to);
  }

  /** Keeps the autoscaler's record with the job's, so that a new leader goes on from it. */
  saveAutoscalerRecord(autoscaler: NonNullable<JobRecord["autoscaler"]>): void {
    this.record.autoscaler = autoscaler;
    this.saveRecord();
  }

  /**
   * Writes the record (fenced by the leadership). A write refused or lost is logged, not retried: the
   * next change writes the whole record again, and what must not be lost (attempts, the end of the
   * job) is awaited where it is written.
   */
  private saveRecord(): void {
    if (this.closed) return;
    this.deps.jobs.put(this.record).catch((err: unknown) => {
      const e = toRiffleError(err);
      if (e.code === "LEADERSHIP_LOST") this.logger.debug({ err: e.message }, "job record not written: the leadership ended");
      else this.logger.error({ code: e.code, err: e.message }, "could not write the job record");
    });
  }
}
