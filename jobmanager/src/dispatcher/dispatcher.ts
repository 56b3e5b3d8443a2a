import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import {
  RiffleError,
  toRiffleError,
  type AcknowledgeCheckpointRequest,
  type DeclineCheckpointRequest,
  type OperatorEventRequest,
  type JobGraph,
  type Logger,
  type TaskExecutionState,
  type TaskMetricsReport,
} from "@riffle/shared";
import { checkSavepointCompatibility, readSavepoint, type CompletedCheckpoint } from "../checkpoint/index.js";
import { type Clock, SystemClock } from "../clock.js";
import { ResultBuffer } from "../collect/index.js";
import type { JobResult, LeaderStores, TerminalJobStatus } from "../ha/index.js";
import type { MetricsHistory } from "../metrics/index.js";
import type { PlanOptions } from "../plan/index.js";
import type { RegisteredTaskManager, TaskManagerListener } from "../registry/index.js";
import { JobMaster, isTerminalJobStatus, type JobDefaults, type SlotProvider, type TaskExecutorGateway } from "../scheduler/index.js";
import { JOB_STATUSES, type BundleStore, type JobRecord, type JobStatus } from "../store/index.js";
import { AsyncOperations, type OperationKind, type OperationState } from "./operations.js";
import type { TaskOnTaskManager } from "@riffle/shared/rest-api";

export interface SubmitRequest {
  bundle: Uint8Array;
  name?: string | undefined;
  parallelism?: number | undefined;
  args?: string[] | undefined;
  /** A savepoint (or retained checkpoint) directory to start from; relative paths resolve against the JobManager's directory. */
  savepointPath?: string | undefined;
  /** Start even if the savepoint has state of operators (by uid) the job lacks; that state is dropped. */
  allowNonRestoredState?: boolean | undefined;
}

export interface SavepointOptions {
  /** Where the savepoint's directory is created; `state.savepoints.dir` by default. */
  targetDirectory?: string | undefined;
}

export interface DispatcherOptions {
  bundles: BundleStore;
  /** The HA stores of the leadership this dispatcher serves: every write is fenced by it. */
  stores: LeaderStores;
  /**
   * What `recover()` does with jobs that had not ended: take them over (high availability), or mark
   * them FAILED (a single JobManager without high availability, as before).
   */
  recoverJobs: boolean;
  /** Called once per job taken over from an earlier leader (the job-recoveries metric). */
  onJobRecovered?(jobId: string): void;
  slots: SlotProvider;
  gateway: TaskExecutorGateway;
  plan: (options: PlanOptions) => Promise<JobGraph>;
  planTimeoutMs: number;
  defaultParallelism: number;
  defaultMaxParallelism: number;
  defaultBufferTimeoutMs: number;
  /** `pipeline.auto-watermark-interval`, for jobs that set none. */
  defaultAutoWatermarkIntervalMs: number;
  /** How long a lost TaskManager can go unnoticed (heartbeat timeout plus one interval): sinks check their timeouts against it. */
  failureDetectionMs: number;
  collectBufferRecords: number;
  cancelTimeoutMs: number;
  /** The cluster's defaults for state backend, checkpoints and restarts. */
  jobDefaults: JobDefaults;
  logger: Logger;
  /** Parent of each job's scheduler logger (which adds the job id). */
  schedulerLogger: Logger;
  /** Parent of each job's checkpoint coordinator logger (which adds the job id). */
  checkpointLogger: Logger;
  /** Time and timers of the dispatcher and its jobs; the system's by default. */
  clock?: Clock;
  /** Where the TaskManagers' per-task reports are kept, for rates, back-pressure and charts. */
  metricsHistory: MetricsHistory;
  /** Checks a planned graph before the job is created (the autoscaler refuses settings it cannot honour); throws to refuse the submission. */
  checkGraph?: (graph: JobGraph) => void;
}

const MAX_PARALLELISM = 32768;

/**
 * The JobManager's front desk for jobs: accepts submissions (stores the bundle, plans it, starts a
 * JobMaster), keeps every job known to this JobManager, and routes what TaskManagers report to the
 * job it concerns.
 */
export class Dispatcher implements TaskManagerListener {
  private readonly jobs = new Map<string, JobMaster>();
  private readonly operations = new AsyncOperations();
  /** Jobs whose rescale is being planned: the job is still RUNNING, but a second one must wait. */
  private readonly planningRescale = new Set<string>();
  private readonly logger: Logger;
  private readonly clock: Clock;
  private closed = false;

  constructor(private readonly options: DispatcherOptions) {
    this.logger = options.logger;
    this.clock = options.clock ?? SystemClock;
  }

  /**
   * Loads the jobs from the job store. A job with a result ended (whatever its record says, in case
   * the leader died between the two writes): it is history, and a clean-up an earlier leader left
   * unfinished is finished. A job that had not ended is taken over with high availability (restarted
   * from its newest checkpoint, see JobMaster.recover); without, it is marked FAILED, as a single
   * JobManager always did. Rejects when the stores cannot be read (the leader then steps down).
   */
  async recover(): Promise<void> {
    const { jobs, jobResults } = this.options.stores;
    const [records, results] = await Promise.all([jobs.list(), jobResults.list()]);
    const resultOf = new Map(results.map((r) => [r.jobId, r]));
    const recovered: JobMaster[] = [];
    await Promise.all(
      records.map(async (record) => {
        const result = resultOf.get(record.id);
        if (result && !isTerminalJobStatus(record.status)) applyResult(record, result);
        if (!isTerminalJobStatus(record.status) && !this.options.recoverJobs) {
          const now = this.clock.now();
          this.logger.warn({ jobId: record.id, status: record.status }, "marking a job of the previous JobManager as FAILED");
          record.status = "FAILED";
          record.statusTimestamps.FAILED = now;
          record.endTime = now;
          record.failure = { code: "INTERNAL", message: "the JobManager restarted; jobs are not recovered without high availability" };
          await jobs.put(record);
        }
        let job: JobMaster;
        try {
          job = isTerminalJobStatus(record.status) ? this.jobMaster(record) : await this.recoveredJobMaster(record);
        } catch (err) {
          // A record from an older JobManager whose settings this one refuses: keep the others.
          this.logger.warn({ jobId: record.id, err: (err as Error).message }, "skipping a job record this JobManager cannot load");
          return;
        }
        this.jobs.set(record.id, job);
        if (!job.isTerminal) recovered.push(job);
      }),
    );
    if (this.jobs.size > 0) this.logger.info({ jobs: this.jobs.size, recovering: recovered.length }, "loaded job history");
    // Results an earlier leader wrote but did not get to mark clean: finish their clean-up.
    for (const result of results) {
      if (!result.clean) void this.cleanUp(result, this.jobs.get(result.jobId)?.record);
    }
    for (const job of recovered.sort((a, b) => a.record.submittedAt - b.record.submittedAt)) {
      if (this.closed) return;
      job.recover();
      this.options.onJobRecovered?.(job.id);
    }
  }

  /**
   * A job master for a job an earlier leader ran: it starts from the newest checkpoint in the store
   * (read here, so that checkpoints carry finished tasks' state) or from its savepoint.
   */
  private async recoveredJobMaster(record: JobRecord): Promise<JobMaster> {
    const pointer = await this.options.stores.completedCheckpoints(record.id).getLatest();
    let latest: CompletedCheckpoint | undefined;
    if (pointer) {
      try {
        latest = { ...readSavepoint(pointer.path), id: pointer.id, path: pointer.path, timestamp: pointer.timestamp };
      } catch (err) {
        // Restoring reads it again, and fails the attempt with the reason; the restart strategy decides.
        this.logger.warn({ jobId: record.id, checkpointId: pointer.id, err: (err as Error).message }, "the job's latest checkpoint is not readable");
      }
    }
    let savepoint: CompletedCheckpoint | undefined;
    if (record.savepoint && !pointer) savepoint = readSavepoint(record.savepoint.path);
    return this.jobMaster(record, savepoint, latest);
  }

  /**
   * Stores and plans the bundle, then starts the job; plan errors reject here, before any job exists.
   * A savepoint to start from is read and checked first (SAVEPOINT_INVALID), then matched against
   * the planned graph (MAX_PARALLELISM_CHANGED, UNMATCHED_STATE).
   */
  async submit(request: SubmitRequest): Promise<string> {
    if (request.bundle.length === 0) throw new RiffleError("BAD_REQUEST", "the job bundle is empty");
    const p = request.parallelism;
    if (p !== undefined && (!Number.isInteger(p) || p < 1 || p > MAX_PARALLELISM)) {
      throw new RiffleError("BAD_REQUEST", `parallelism must be an integer from 1 to ${MAX_PARALLELISM}, got ${p}`);
    }
    const savepoint = request.savepointPath ? readSavepoint(request.savepointPath) : undefined;
    const allowNonRestoredState = request.allowNonRestoredState ?? false;
    const bundles = this.options.bundles;
    const stored = bundles.put(request.bundle);
    const args = request.args ?? [];
    let graph: JobGraph;
    let skipped: string[];
    try {
      graph = await this.plan(stored, args, request.name || `job-${stored.slice(0, 8)}`, { parallelism: p });
      this.options.checkGraph?.(graph);
      skipped = savepoint ? checkSavepointCompatibility(savepoint, graph, allowNonRestoredState).skipped : [];
    } catch (err) {
      // A refused submission leaves nothing behind, unless a job of its own uses the same bundle.
      if (![...this.jobs.values()].some((j) => j.record.bundleHash === stored)) bundles.remove(stored);
      throw err;
    }
    const bundleHash = stored;
    const id = randomUUID().replaceAll("-", "");
    const now = this.clock.now();
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
      ...(savepoint ? { savepoint: { path: savepoint.path, checkpointId: savepoint.id, allowNonRestoredState } } : {}),
    };
    // Built before the record is stored: out-of-range checkpoint or restart settings refuse the submission.
    const job = this.jobMaster(record, savepoint);
    const stores = this.options.stores;
    // The job's checkpoint ids continue after its savepoint's; the job exists once its record is stored.
    if (savepoint) {
      const counter = stores.checkpointIdCounter(id);
      await counter.setCount(Math.max(await counter.get(), savepoint.id + 1));
    }
    await stores.jobs.put(record);
    if (this.closed) {
      job.close();
      throw new RiffleError("LEADERSHIP_LOST", `job ${id} was recorded, but this JobManager no longer leads; the new leader runs it`);
    }
    this.jobs.set(id, job);
    this.logger.info(
      {
        jobId: id,
        name: record.name,
        bundleHash,
        vertices: graph.vertices.map((v) => `${v.name} (${v.parallelism})`),
        ...(savepoint ? { savepoint: savepoint.path } : {}),
      },
      `job ${record.name} (${id}) submitted${savepoint ? ` from savepoint ${savepoint.path}` : ""}`,
    );
    if (skipped.length > 0) {
      this.logger.warn(
        { jobId: id, uids: skipped, savepoint: savepoint?.path },
        `not restoring the savepoint's state of ${skipped.join(", ")}: the job has no such operators`,
      );
    }
    job.start();
    return id;
  }

  /**
   * Takes a savepoint of a running job; with `cancelJob` the job is cancelled once it completed
   * (Flink's cancel-with-savepoint). Returns the trigger id; the outcome is polled with
   * `operation(jobId, "savepoint", id)`. Throws JOB_NOT_FOUND, JOB_NOT_RUNNING, OPERATION_IN_PROGRESS.
   */
  triggerSavepoint(jobId: string, options: SavepointOptions & { cancelJob?: boolean | undefined }): string {
    const job = this.job(jobId);
    if (options.cancelJob) this.requireNoStop(job);
    const targetDir = this.targetDirOf(options);
    const work = options.cancelJob ? job.stopWithSavepoint(targetDir, { type: "cancel" }) : job.triggerSavepoint(targetDir);
    return this.operations.start(
      jobId,
      "savepoint",
      work.then((s) => s.path),
    );
  }

  /**
   * Stop-with-savepoint: a savepoint, then the job ends FINISHED. Draining (ending the sources and
   * firing every timer first) is refused: it needs the sources to end their input on request.
   */
  stopWithSavepoint(jobId: string, options: SavepointOptions & { drain?: boolean | undefined }): string {
    const job = this.job(jobId);
    if (options.drain) {
      throw new RiffleError(
        "BAD_REQUEST",
        "stopping with drain is not supported: a stop keeps windows and timers in the savepoint, and the job restored from it goes on with them",
      );
    }
    this.requireNoStop(job);
    const work = job.stopWithSavepoint(this.targetDirOf(options), { type: "stop" });
    return this.operations.start(
      jobId,
      "savepoint",
      work.then((s) => s.path),
    );
  }

  /**
   * Rescales a running job: plans its bundle again with `parallelism` winning over the job's own
   * env.setParallelism, stops it with a savepoint (into `state.savepoints.dir`), and redeploys the
   * same job from that savepoint at the new parallelism. Returns the trigger id, polled with
   * `operation(jobId, "rescale", id)`. Throws BAD_REQUEST or PARALLELISM_ABOVE_MAX for a parallelism
   * the job cannot have, JOB_NOT_RUNNING, OPERATION_IN_PROGRESS.
   */
  rescale(jobId: string, parallelism: number): string {
    const job = this.job(jobId);
    if (!Number.isInteger(parallelism) || parallelism < 1)
      throw new RiffleError("BAD_REQUEST", `parallelism must be an integer of at least 1, got ${parallelism}`);
    const maxParallelism = job.graph.maxParallelism;
    if (parallelism > maxParallelism) {
      throw new RiffleError(
        "PARALLELISM_ABOVE_MAX",
        `cannot rescale job ${jobId} to parallelism ${parallelism}: its max parallelism is ${maxParallelism}, fixed for the job's life`,
      );
    }
    return this.rescaleWith(job, `parallelism ${parallelism}`, { parallelism, parallelismOverride: parallelism });
  }

  /**
   * Rescales single vertices of a running job (the autoscaler's rescale, Flink's
   * `pipeline.jobvertex-parallelism-overrides`): `parallelisms` maps vertex ids of the job's current
   * graph to their new parallelism; other vertices keep theirs. The job is planned again as it was
   * last planned, with the vertices' parallelism overridden by the uids of their operators, so every
   * chain stays as it is. Same outcome and errors as `rescale`.
   */
  rescaleVertices(jobId: string, parallelisms: Readonly<Record<string, number>>): string {
    const job = this.job(jobId);
    const graph = job.graph;
    const overrides: Record<string, number> = { ...graph.planned?.parallelismOverrides };
    for (const [vertexId, p] of Object.entries(parallelisms)) {
      const vertex = graph.vertices.find((v) => v.id === vertexId);
      if (!vertex) throw new RiffleError("BAD_REQUEST", `job ${jobId} has no vertex ${vertexId}`);
      if (!Number.isInteger(p) || p < 1) throw new RiffleError("BAD_REQUEST", `the parallelism of ${vertexId} must be an integer of at least 1, got ${p}`);
      if (p > graph.maxParallelism) {
        throw new RiffleError(
          "PARALLELISM_ABOVE_MAX",
          `cannot rescale ${vertex.name} of job ${jobId} to parallelism ${p}: its max parallelism is ${graph.maxParallelism}, fixed for the job's life`,
        );
      }
      // One uid names the vertex; the others of its chain must not contradict it.
      for (const op of vertex.operators) delete overrides[op.uid];
      overrides[vertex.operators[0]!.uid] = p;
    }
    const what = Object.entries(parallelisms)
      .map(([v, p]) => `${v} → ${p}`)
      .join(", ");
    return this.rescaleWith(job, what, {
      parallelism: graph.planned?.parallelism,
      parallelismOverride: graph.planned?.parallelismOverride,
      parallelismOverrides: overrides,
    });
  }

  /** Plans the job again with `how`, checks it built the same pipeline, and stops it with a savepoint to redeploy it so. */
  private rescaleWith(job: JobMaster, what: string, how: NonNullable<JobGraph["planned"]>): string {
    const jobId = job.id;
    if (job.status !== "RUNNING") throw new RiffleError("JOB_NOT_RUNNING", `job ${jobId} is ${job.status}; only a RUNNING job can be rescaled`);
    this.requireNoStop(job);
    const maxParallelism = job.graph.maxParallelism;
    this.planningRescale.add(jobId);
    const work = (async () => {
      let graph: JobGraph;
      try {
        const record = job.record;
        graph = await this.plan(record.bundleHash, record.args, record.name, how);
      } finally {
        this.planningRescale.delete(jobId);
      }
      const before = uidsOf(job.graph);
      const after = uidsOf(graph);
      if (graph.maxParallelism !== maxParallelism || JSON.stringify(before) !== JSON.stringify(after)) {
        throw new RiffleError(
          "JOB_INVALID_GRAPH",
          `job ${jobId} built a different graph when planned again (max parallelism ${graph.maxParallelism}, uids ${after.join(", ")}; before: ${maxParallelism}, ${before.join(", ")}); a job must build the same pipeline every time`,
        );
      }
      if (how.parallelismOverrides && JSON.stringify(chainsOf(graph)) !== JSON.stringify(chainsOf(job.graph))) {
        throw new RiffleError(
          "JOB_INVALID_GRAPH",
          `job ${jobId} chained its operators differently when planned again (${chainsOf(graph).join(" | ")}; before: ${chainsOf(job.graph).join(" | ")}); a job must build the same pipeline every time`,
        );
      }
      this.logger.info(
        { jobId, rescale: what, vertices: graph.vertices.map((v) => `${v.name} (${v.parallelism})`) },
        `rescaling job ${job.record.name} (${jobId}): ${what}`,
      );
      const savepoint = await job.stopWithSavepoint(this.options.jobDefaults.checkpoints.savepointDir, { type: "rescale", graph });
      return savepoint.path;
    })();
    return this.operations.start(jobId, "rescale", work);
  }

  /** Resolves with the final state of a savepoint/stop or rescale operation once it ended. */
  operationSettled(jobId: string, kind: OperationKind, triggerId: string): Promise<OperationState> {
    this.job(jobId);
    return this.operations.settled(jobId, kind, triggerId);
  }

  /** The state of a savepoint/stop or rescale operation; JOB_NOT_FOUND, OPERATION_NOT_FOUND. */
  operation(jobId: string, kind: OperationKind, triggerId: string): OperationState {
    this.job(jobId);
    return this.operations.get(jobId, kind, triggerId);
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
    // A task's final counters come with its terminal state: they close its history.
    if (update.metrics && job.reportMetrics(update.metrics)) this.options.metricsHistory.record(update.metrics);
    job.updateTaskState(update);
  }

  acknowledgeCheckpoint(ack: AcknowledgeCheckpointRequest): void {
    const job = this.jobs.get(ack.jobId);
    if (job) job.acknowledgeCheckpoint(ack);
    else this.logger.debug({ jobId: ack.jobId, checkpointId: ack.checkpointId }, "ignoring a checkpoint acknowledgement for an unknown job");
  }

  /** An event of a task's source reader for its coordinator; one of a job that is gone is dropped. */
  operatorEvent(request: OperatorEventRequest): void {
    const job = this.jobs.get(request.jobId);
    if (job) job.operatorEvent(request);
    else this.logger.debug({ jobId: request.jobId, executionId: request.executionId }, "ignoring an operator event for an unknown job");
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
        tasks.push({
          executionId: e.executionId,
          jobId: job.id,
          jobName: job.record.name,
          vertexId: e.vertexId,
          vertexName: e.vertexName,
          subtask: e.subtask,
          attempt: e.attempt,
          status: e.state,
        });
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
    for (const report of reports) {
      if (this.jobs.get(report.jobId)?.reportMetrics(report)) this.options.metricsHistory.record(report);
    }
  }

  executionsOn(taskmanagerId: string): string[] {
    const ids: string[] = [];
    for (const job of this.jobs.values()) {
      if (!job.isTerminal) ids.push(...job.activeExecutionIdsOn(taskmanagerId));
    }
    return ids;
  }

  /**
   * Stops every job at once (the JobManager stops, or its leadership ended): timers, deployments,
   * checkpoints and writes; waiting readers and sinks are woken. Statuses stay as recorded.
   */
  close(): void {
    this.closed = true;
    for (const job of this.jobs.values()) job.close();
  }

  /**
   * A job ended: its result is recorded first (dirty), then its final record, then its checkpoint
   * counter and pointers are dropped (the checkpoints' directories stay, as retained checkpoints),
   * and the result is marked clean. Each write is retried while this leadership lasts; a new leader
   * finishes what is left (see recover).
   */
  private jobEnded(job: JobMaster): void {
    const record = job.record;
    const result: JobResult = {
      jobId: record.id,
      status: record.status as TerminalJobStatus,
      endTime: record.endTime ?? this.clock.now(),
      ...(record.failure ? { failure: record.failure } : {}),
    };
    void this.persistently(`record the result of job ${record.id}`, () => this.options.stores.jobResults.createDirtyResult(result)).then((ok) => {
      if (ok) void this.cleanUp({ ...result, clean: false }, record);
    });
  }

  /** The steps after the dirty result: the final record, the counter and pointers, the result marked clean. */
  private async cleanUp(result: JobResult & { clean: boolean }, record: JobRecord | undefined): Promise<void> {
    const { stores } = this.options;
    const id = result.jobId;
    if (record) {
      if (!isTerminalJobStatus(record.status)) applyResult(record, result);
      if (!(await this.persistently(`write the final record of job ${id}`, () => stores.jobs.put(record)))) return;
    }
    if (!(await this.persistently(`drop the checkpoint id counter of job ${id}`, () => stores.checkpointIdCounter(id).discard()))) return;
    if (!(await this.persistently(`drop the checkpoint pointers of job ${id}`, () => stores.completedCheckpoints(id).discard()))) return;
    await this.persistently(`mark the result of job ${id} clean`, () => stores.jobResults.markResultAsClean(id));
  }

  /**
   * Runs `write` until it succeeds, waiting 100 ms to 2 s between attempts, while this leadership
   * lasts; false once it ended (the next leader takes over).
   */
  private async persistently(what: string, write: () => Promise<void>): Promise<boolean> {
    for (let failures = 0; ; failures++) {
      if (this.closed || !this.options.stores.session.isActive()) return false;
      try {
        await write();
        return true;
      } catch (err) {
        const e = toRiffleError(err);
        if (e.code === "LEADERSHIP_LOST") return false;
        if (failures === 0 || failures % 10 === 0) this.logger.warn({ code: e.code, err: e.message }, `could not ${what}; retrying`);
        const delayMs = Math.min(2_000, 100 * 2 ** Math.min(failures, 5));
        await new Promise<void>((resolve) => this.clock.schedule(resolve, delayMs));
      }
    }
  }

  /** Plans the bundle; the graph records how (JobGraph.planned), so a rescale can plan it the same way. */
  private async plan(bundleHash: string, args: string[], name: string, how: NonNullable<JobGraph["planned"]>): Promise<JobGraph> {
    const graph = await this.options.plan({
      bundlePath: this.options.bundles.path(bundleHash),
      args,
      buildOptions: {
        name,
        parallelism: how.parallelism,
        defaultParallelism: this.options.defaultParallelism,
        defaultMaxParallelism: this.options.defaultMaxParallelism,
        defaultBufferTimeoutMs: this.options.defaultBufferTimeoutMs,
        defaultAutoWatermarkIntervalMs: this.options.defaultAutoWatermarkIntervalMs,
        defaultRestartDelayMs: this.options.jobDefaults.restart.maxDelayMs,
        failureDetectionMs: this.options.failureDetectionMs,
        parallelismOverrides: how.parallelismOverrides,
      },
      parallelismOverride: how.parallelismOverride,
      timeoutMs: this.options.planTimeoutMs,
    });
    const planned: NonNullable<JobGraph["planned"]> = {};
    if (how.parallelism !== undefined) planned.parallelism = how.parallelism;
    if (how.parallelismOverride !== undefined) planned.parallelismOverride = how.parallelismOverride;
    if (how.parallelismOverrides !== undefined && Object.keys(how.parallelismOverrides).length > 0) planned.parallelismOverrides = how.parallelismOverrides;
    return { ...graph, planned };
  }

  /** One stop or rescale at a time: a rescale being planned has not reached its JobMaster yet. */
  private requireNoStop(job: JobMaster): void {
    if (this.planningRescale.has(job.id) || job.stopInProgress) {
      throw new RiffleError("OPERATION_IN_PROGRESS", `job ${job.id} is already being stopped or rescaled with a savepoint; wait for that to end`);
    }
  }

  private targetDirOf(options: SavepointOptions): string {
    return resolve(options.targetDirectory || this.options.jobDefaults.checkpoints.savepointDir);
  }

  private jobMaster(record: JobRecord, savepoint?: CompletedCheckpoint, latest?: CompletedCheckpoint): JobMaster {
    const stores = this.options.stores;
    return new JobMaster(
      record,
      {
        slots: this.options.slots,
        gateway: this.options.gateway,
        jobs: stores.jobs,
        counter: stores.checkpointIdCounter(record.id),
        checkpoints: stores.completedCheckpoints(record.id),
        jobEnded: (job) => this.jobEnded(job),
        results: new ResultBuffer(this.options.collectBufferRecords),
        cancelTimeoutMs: this.options.cancelTimeoutMs,
        defaults: this.options.jobDefaults,
        logger: this.options.schedulerLogger.child({ jobId: record.id }),
        checkpointLogger: this.options.checkpointLogger.child({ jobId: record.id }),
        bundlePath: (hash) => this.options.bundles.path(hash),
        clock: this.clock,
      },
      { savepoint, latest },
    );
  }
}

/** A record whose job has a result: its status, end and failure as the result says. */
function applyResult(record: JobRecord, result: JobResult): void {
  record.status = result.status;
  record.statusTimestamps[result.status] ??= result.endTime;
  record.endTime = result.endTime;
  if (result.failure) record.failure = result.failure;
}

/** Each vertex's operator uids, in vertex order: the chains of a graph. */
function chainsOf(graph: JobGraph): string[] {
  return graph.vertices.map((v) => v.operators.map((o) => o.uid).join(","));
}

/** Every operator uid of a graph, sorted. */
function uidsOf(graph: JobGraph): string[] {
  return graph.vertices.flatMap((v) => v.operators.map((o) => o.uid)).sort();
}
