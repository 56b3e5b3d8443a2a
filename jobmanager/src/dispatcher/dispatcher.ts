import { randomUUID } from "node:crypto";
import {
  RiffleError,
  type AcknowledgeCheckpointRequest,
  type DeclineCheckpointRequest,
  type JobGraph,
  type Logger,
  type TaskExecutionState,
  type TaskMetricsReport,
} from "@riffle/shared";
import type { Clock } from "../clock.js";
import { ResultBuffer } from "../collect/index.js";
import type { PlanOptions } from "../plan/index.js";
import type { RegisteredTaskManager, TaskManagerListener } from "../registry/index.js";
import { JobMaster, isTerminalJobStatus, type JobDefaults, type SlotProvider, type TaskExecutorGateway } from "../scheduler/index.js";
import { JOB_STATUSES, type BundleStore, type JobRecord, type JobStatus, type JobStore } from "../store/index.js";

export interface SubmitRequest {
  bundle: Uint8Array;
  name?: string | undefined;
  parallelism?: number | undefined;
  args?: string[] | undefined;
}

export interface DispatcherOptions {
  bundles: BundleStore;
  store: JobStore;
  slots: SlotProvider;
  gateway: TaskExecutorGateway;
  plan: (options: PlanOptions) => Promise<JobGraph>;
  planTimeoutMs: number;
  defaultParallelism: number;
  defaultMaxParallelism: number;
  defaultBufferTimeoutMs: number;
  collectBufferRecords: number;
  cancelTimeoutMs: number;
  /** The cluster's defaults for state backend, checkpoints and restarts. */
  jobDefaults: JobDefaults;
  logger: Logger;
  /** Parent of each job's scheduler logger (which adds the job id). */
  schedulerLogger: Logger;
  /** Parent of each job's checkpoint coordinator logger (which adds the job id). */
  checkpointLogger: Logger;
  /** Time and timers of the jobs; the system's by default. */
  clock?: Clock;
}

/** A task running on a TaskManager, as the TaskManager views list it. */
export interface TaskOnTaskManager {
  executionId: string;
  jobId: string;
  vertexId: string;
  subtask: number;
  status: string;
}

const MAX_PARALLELISM = 32768;

/**
 * The JobManager's front desk for jobs: accepts submissions (stores the bundle, plans it, starts a
 * JobMaster), keeps every job known to this JobManager, and routes what TaskManagers report to the
 * job it concerns.
 */
export class Dispatcher implements TaskManagerListener {
  private readonly jobs = new Map<string, JobMaster>();
  private readonly logger: Logger;

  constructor(private readonly options: DispatcherOptions) {
    this.logger = options.logger;
  }

  /**
   * Loads the job history. Without high availability nothing is recovered: a job that had not ended
   * when the previous JobManager stopped is marked FAILED.
   */
  recover(): void {
    for (const record of this.options.store.loadAll()) {
      if (!isTerminalJobStatus(record.status)) {
        const now = Date.now();
        this.logger.warn({ jobId: record.id, status: record.status }, "marking a job of the previous JobManager as FAILED");
        record.status = "FAILED";
        record.statusTimestamps.FAILED = now;
        record.endTime = now;
        record.failure = { code: "INTERNAL", message: "the JobManager restarted; jobs are not recovered without high availability" };
        this.options.store.save(record);
      }
      try {
        this.jobs.set(record.id, this.jobMaster(record));
      } catch (err) {
        // A record from an older JobManager whose settings this one refuses: keep the others.
        this.logger.warn({ jobId: record.id, err: (err as Error).message }, "skipping a job record this JobManager cannot load");
      }
    }
    if (this.jobs.size > 0) this.logger.info({ jobs: this.jobs.size }, "loaded job history");
  }

  /** Stores and plans the bundle, then starts the job; plan errors reject here, before any job exists. */
  async submit(request: SubmitRequest): Promise<string> {
    if (request.bundle.length === 0) throw new RiffleError("BAD_REQUEST", "the job bundle is empty");
    const p = request.parallelism;
    if (p !== undefined && (!Number.isInteger(p) || p < 1 || p > MAX_PARALLELISM)) {
      throw new RiffleError("BAD_REQUEST", `parallelism must be an integer from 1 to ${MAX_PARALLELISM}, got ${p}`);
    }
    const bundleHash = this.options.bundles.put(request.bundle);
    const args = request.args ?? [];
    const graph = await this.options.plan({
      bundlePath: this.options.bundles.path(bundleHash),
      args,
      buildOptions: {
        name: request.name || `job-${bundleHash.slice(0, 8)}`,
        parallelism: p,
        defaultParallelism: this.options.defaultParallelism,
        defaultMaxParallelism: this.options.defaultMaxParallelism,
        defaultBufferTimeoutMs: this.options.defaultBufferTimeoutMs,
      },
      timeoutMs: this.options.planTimeoutMs,
    });
    const id = randomUUID().replaceAll("-", "");
    const now = Date.now();
    const record: JobRecord = {
      id,
      name: graph.name,
      status: "CREATED",
      bundleHash,
      args,
      graph,
      submittedAt: now,
      statusTimestamps: { CREATED: now },
      endTime: null,
    };
    // Built before the record is stored: out-of-range checkpoint or restart settings refuse the submission.
    const job = this.jobMaster(record);
    this.options.store.save(record);
    this.jobs.set(id, job);
    this.logger.info(
      { jobId: id, name: record.name, bundleHash, vertices: graph.vertices.map((v) => `${v.name} (${v.parallelism})`) },
      `job ${record.name} (${id}) submitted`,
    );
    job.start();
    return id;
  }

  job(jobId: string): JobMaster {
    const job = this.jobs.get(jobId);
    if (!job) throw new RiffleError("JOB_NOT_FOUND", `no job with id ${jobId}`);
    return job;
  }

  /** Every job, newest submission first. */
  list(): JobMaster[] {
    return [...this.jobs.values()].sort((a, b) => b.record.submittedAt - a.record.submittedAt);
  }

  cancel(jobId: string): JobMaster {
    const job = this.job(jobId);
    job.cancel();
    return job;
  }

  countByStatus(): Record<JobStatus, number> {
    const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
    for (const job of this.jobs.values()) counts[job.status]++;
    return counts;
  }

  updateTaskState(update: TaskExecutionState): void {
    const job = this.jobs.get(update.jobId);
    if (!job) {
      this.logger.debug({ jobId: update.jobId, executionId: update.executionId }, "ignoring state update for an unknown job");
      return;
    }
    job.updateTaskState(update);
  }

  acknowledgeCheckpoint(ack: AcknowledgeCheckpointRequest): void {
    const job = this.jobs.get(ack.jobId);
    if (job) job.acknowledgeCheckpoint(ack);
    else this.logger.debug({ jobId: ack.jobId, checkpointId: ack.checkpointId }, "ignoring a checkpoint acknowledgement for an unknown job");
  }

  declineCheckpoint(decline: DeclineCheckpointRequest): void {
    const job = this.jobs.get(decline.jobId);
    if (job) job.declineCheckpoint(decline);
    else this.logger.debug({ jobId: decline.jobId, checkpointId: decline.checkpointId }, "ignoring a checkpoint decline for an unknown job");
  }

  /** Tasks of jobs that have not ended placed on the TaskManager. */
  tasksOn(taskmanagerId: string): TaskOnTaskManager[] {
    const tasks: TaskOnTaskManager[] = [];
    for (const job of this.jobs.values()) {
      if (job.isTerminal) continue;
      for (const e of job.executionList()) {
        if (e.slot.taskmanagerId !== taskmanagerId) continue;
        tasks.push({ executionId: e.executionId, jobId: job.id, vertexId: e.vertexId, subtask: e.subtask, status: e.state });
      }
    }
    return tasks;
  }

  onTaskManagerRegistered(_tm: RegisteredTaskManager): void {
    this.options.slots.resourcesChanged();
  }

  onTaskManagerLost(tm: RegisteredTaskManager, message: string): void {
    this.options.gateway.disconnect(tm.address);
    for (const job of this.jobs.values()) {
      if (!job.isTerminal) job.taskManagerLost(tm.id, message);
    }
  }

  onTaskReports(_tm: RegisteredTaskManager, reports: readonly TaskMetricsReport[]): void {
    for (const report of reports) this.jobs.get(report.jobId)?.reportMetrics(report);
  }

  executionsOn(taskmanagerId: string): string[] {
    const ids: string[] = [];
    for (const job of this.jobs.values()) {
      if (!job.isTerminal) ids.push(...job.activeExecutionIdsOn(taskmanagerId));
    }
    return ids;
  }

  /** Stops every job's timers and wakes waiting readers and sinks; statuses stay as they are. */
  close(): void {
    for (const job of this.jobs.values()) job.close();
  }

  private jobMaster(record: JobRecord): JobMaster {
    return new JobMaster(record, {
      slots: this.options.slots,
      gateway: this.options.gateway,
      store: this.options.store,
      results: new ResultBuffer(this.options.collectBufferRecords),
      cancelTimeoutMs: this.options.cancelTimeoutMs,
      defaults: this.options.jobDefaults,
      logger: this.options.schedulerLogger.child({ jobId: record.id }),
      checkpointLogger: this.options.checkpointLogger.child({ jobId: record.id }),
      ...(this.options.clock ? { clock: this.options.clock } : {}),
    });
  }
}
