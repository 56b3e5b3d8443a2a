import { RiffleError, toRiffleError, type JobGraph, type Logger, type TaskExecutionState, type TaskMetricsReport } from "@riffle/shared";
import type { ResultBuffer } from "../collect/index.js";
import type { SlotRef } from "../registry/index.js";
import type { JobFailure, JobRecord, JobStatus, JobStore } from "../store/index.js";
import { buildDeploymentDescriptors } from "./deployment.js";
import { executionIdOf, isTerminalExecutionState, taskNameOf, type Execution, type ExecutionFailure, type ExecutionState } from "./execution.js";
import { JobStatusMachine } from "./job-status.js";
import type { SlotProvider, SlotRequest } from "./slot-provider.js";
import type { TaskExecutorGateway } from "./task-executor-gateway.js";

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
  store: JobStore;
  results: ResultBuffer;
  /** How long FAILING/CANCELLING waits for tasks to confirm before the job ends anyway. */
  cancelTimeoutMs: number;
  logger: Logger;
  now?: () => number;
}

/**
 * Runs one job: asks for slots, deploys every subtask, follows the tasks' states and drives the job
 * through its state machine (see job-status.ts) to FINISHED, FAILED or CANCELED.
 *
 * Slot sharing as in Flink: the job takes as many slots as its widest vertex, and job slot i hosts
 * subtask i of every vertex that has one. A slot goes back to the pool once every execution in it
 * has ended.
 */
export class JobMaster {
  readonly record: JobRecord;
  readonly results: ResultBuffer;
  readonly exceptions: ExceptionEntry[] = [];
  private readonly machine: JobStatusMachine;
  private readonly executions = new Map<string, Execution>();
  private slots: SlotRef[] = [];
  private readonly slotsReleased = new Set<number>();
  private slotRequest: SlotRequest | undefined;
  private stopTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly logger: Logger;

  constructor(
    record: JobRecord,
    private readonly deps: JobMasterDeps,
  ) {
    this.record = record;
    this.results = deps.results;
    this.now = deps.now ?? Date.now;
    this.logger = deps.logger;
    this.machine = new JobStatusMachine(record.status, record.statusTimestamps, this.now);
    if (this.machine.isTerminal) this.results.end();
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

  /** Executions in vertex order, subtasks ascending. */
  executionList(): Execution[] {
    return [...this.executions.values()];
  }

  /** Executions the TaskManager should be running now (deployed and not being stopped). */
  activeExecutionIdsOn(taskmanagerId: string): string[] {
    const ids: string[] = [];
    for (const e of this.executions.values()) {
      if (e.slot.taskmanagerId === taskmanagerId && (e.state === "DEPLOYING" || e.state === "RUNNING")) ids.push(e.executionId);
    }
    return ids;
  }

  /** Asks for slots and deploys once they are there. */
  start(): void {
    if (!this.machine.is("CREATED")) return;
    const needed = Math.max(...this.graph.vertices.map((v) => v.parallelism));
    const request = this.deps.slots.request(this.id, needed);
    this.slotRequest = request;
    request.promise.then(
      (slots) => {
        this.slotRequest = undefined;
        this.deploy(slots);
      },
      (err: unknown) => {
        this.slotRequest = undefined;
        const e = toRiffleError(err);
        this.addException({ code: e.code, message: e.message, taskName: null, taskmanagerId: null });
        this.fail({ code: e.code, message: e.message });
      },
    );
  }

  /** Cancels the job; a job that is already stopping stays on its way, an ended one is refused. */
  cancel(): void {
    if (this.machine.isTerminal) {
      throw new RiffleError("JOB_NOT_RUNNING", `job ${this.id} has already ended (${this.status}); only a job that has not ended can be cancelled`);
    }
    if (!this.machine.is("CREATED", "RUNNING")) return;
    this.slotRequest?.cancel();
    this.slotRequest = undefined;
    this.transition("CANCELLING");
    this.stopExecutions();
  }

  /** A TaskManager reported a state change of one of its tasks. */
  updateTaskState(update: TaskExecutionState): void {
    const execution = this.executions.get(update.executionId);
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
    const lost = this.executionList().filter((e) => e.slot.taskmanagerId === taskmanagerId && !isTerminalExecutionState(e.state));
    if (lost.length === 0) return;
    const failure: ExecutionFailure = { code: "TASKMANAGER_LOST", message };
    for (const e of lost) {
      e.state = "FAILED";
      e.failure = failure;
      this.addException({ ...failure, taskName: taskNameOf(e), taskmanagerId });
    }
    if (this.machine.is("CREATED", "RUNNING")) this.fail(failure);
    else for (const e of lost) this.afterExecutionEnded(e);
  }

  reportMetrics(report: TaskMetricsReport): void {
    const execution = this.executions.get(report.executionId);
    if (execution) execution.metrics = report;
  }

  /** Stops timers and pending requests when the JobManager shuts down; the job's status stays as it is. */
  close(): void {
    clearTimeout(this.stopTimer);
    this.slotRequest?.cancel();
    this.slotRequest = undefined;
    this.results.close();
  }

  private deploy(slots: SlotRef[]): void {
    if (!this.machine.is("CREATED")) {
      this.deps.slots.release(this.id, slots);
      return;
    }
    this.slots = slots;
    for (const vertex of this.graph.vertices) {
      for (let subtask = 0; subtask < vertex.parallelism; subtask++) {
        const executionId = executionIdOf(this.id, vertex.id, subtask, 0);
        this.executions.set(executionId, {
          executionId,
          vertexId: vertex.id,
          vertexName: vertex.name,
          subtask,
          parallelism: vertex.parallelism,
          attempt: 0,
          slot: slots[subtask]!,
          state: "SCHEDULED",
        });
      }
    }
    const descriptors = buildDeploymentDescriptors({
      jobId: this.id,
      jobName: this.record.name,
      bundleHash: this.record.bundleHash,
      args: this.record.args,
      graph: this.graph,
      locate: (vertexId, subtask) => {
        const executionId = executionIdOf(this.id, vertexId, subtask, 0);
        const slot = this.executions.get(executionId)!.slot;
        return { executionId, taskmanagerId: slot.taskmanagerId, address: slot.address };
      },
    });
    this.logger.info(
      { tasks: descriptors.length, slots: slots.map((s) => `${s.taskmanagerId}#${s.slotIndex}`) },
      `deploying ${descriptors.length} tasks of job ${this.record.name}`,
    );
    this.transition("RUNNING");
    for (const descriptor of descriptors) {
      const execution = this.executions.get(descriptor.executionId)!;
      this.setExecutionState(execution, "DEPLOYING");
      this.deps.gateway.deployTask(execution.slot.address, descriptor).then(
        () => this.logger.debug({ executionId: execution.executionId }, "task deployed"),
        (err: unknown) => this.deployFailed(execution, err),
      );
    }
  }

  private deployFailed(execution: Execution, err: unknown): void {
    if (isTerminalExecutionState(execution.state)) return;
    const { taskmanagerId, address } = execution.slot;
    this.executionFailed(execution, "FAILED", {
      code: "TASK_DEPLOYMENT_FAILED",
      message: `could not deploy ${taskNameOf(execution)} to TaskManager ${taskmanagerId} (${address}): ${toRiffleError(err).message}`,
    });
  }

  /** An execution ended badly: the first such failure fails the job, later ones are only recorded. */
  private executionFailed(execution: Execution, state: "FAILED" | "CANCELED", failure: ExecutionFailure): void {
    this.setExecutionState(execution, state);
    execution.failure = failure;
    this.addException({ ...failure, taskName: taskNameOf(execution), taskmanagerId: execution.slot.taskmanagerId });
    if (this.machine.is("CREATED", "RUNNING")) this.fail(failure);
    else this.afterExecutionEnded(execution);
  }

  private fail(failure: JobFailure): void {
    if (!this.machine.is("CREATED", "RUNNING")) return;
    this.slotRequest?.cancel();
    this.slotRequest = undefined;
    this.record.failure = failure;
    this.transition("FAILING");
    this.stopExecutions();
  }

  /** Cancels every execution that has not ended and waits (bounded) for the tasks to confirm. */
  private stopExecutions(): void {
    for (const e of this.executions.values()) {
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
    if (!this.progress()) {
      const status = this.status;
      this.stopTimer = setTimeout(() => this.stopTimedOut(status), this.deps.cancelTimeoutMs);
    }
    this.releaseEndedSlots();
  }

  private stopTimedOut(status: JobStatus): void {
    if (this.status !== status) return;
    const pending = this.executionList().filter((e) => !isTerminalExecutionState(e.state));
    this.logger.warn(
      { executions: pending.map((e) => e.executionId), timeoutMs: this.deps.cancelTimeoutMs },
      `${pending.length} tasks did not confirm they stopped within ${this.deps.cancelTimeoutMs} ms (jobmanager.cancel.timeout); ending the job anyway`,
    );
    for (const e of pending) this.setExecutionState(e, "CANCELED");
    this.releaseEndedSlots();
    this.progress();
  }

  private afterExecutionEnded(execution: Execution): void {
    this.releaseSlotIfEnded(execution.subtask);
    this.progress();
  }

  /** Moves the job on when its executions allow; true when the job has ended. */
  private progress(): boolean {
    const all = this.executionList();
    if (this.machine.is("RUNNING") && all.length > 0 && all.every((e) => e.state === "FINISHED")) {
      this.transition("FINISHED");
    } else if (this.machine.is("FAILING") && all.every((e) => isTerminalExecutionState(e.state))) {
      this.transition("FAILED");
    } else if (this.machine.is("CANCELLING") && all.every((e) => isTerminalExecutionState(e.state))) {
      this.transition("CANCELED");
    }
    return this.machine.isTerminal;
  }

  private releaseEndedSlots(): void {
    for (let i = 0; i < this.slots.length; i++) this.releaseSlotIfEnded(i);
  }

  private releaseSlotIfEnded(slotIndex: number): void {
    const slot = this.slots[slotIndex];
    if (!slot || this.slotsReleased.has(slotIndex)) return;
    for (const e of this.executions.values()) {
      if (e.subtask === slotIndex && !isTerminalExecutionState(e.state)) return;
    }
    this.slotsReleased.add(slotIndex);
    this.deps.slots.release(this.id, [slot]);
  }

  private setExecutionState(execution: Execution, state: ExecutionState): void {
    if (execution.state === state) return;
    this.logger.debug({ executionId: execution.executionId, from: execution.state, to: state }, "task state changed");
    execution.state = state;
  }

  private addException(entry: Omit<ExceptionEntry, "timestamp">): void {
    this.exceptions.push({ timestamp: this.now(), ...entry });
  }

  private transition(to: JobStatus): void {
    const t = this.machine.transition(to);
    this.record.status = to;
    const fields: Record<string, unknown> = { from: t.from, to: t.to, msInPrevious: t.durationMs };
    if (to === "FAILING" || to === "FAILED") fields.failure = this.record.failure;
    this.logger.info(fields, `job ${this.record.name} (${this.id}) switched from ${t.from} to ${t.to}`);
    if (this.machine.isTerminal) {
      clearTimeout(this.stopTimer);
      this.record.endTime = t.at;
      this.releaseEndedSlots();
      this.results.end();
    }
    try {
      this.deps.store.save(this.record);
    } catch (err) {
      this.logger.error({ err: toRiffleError(err).message }, "could not write the job record");
    }
  }
}
