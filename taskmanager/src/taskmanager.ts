import { join } from "node:path";
import { randomUUID } from "node:crypto";
import type { Server as HttpServer } from "node:http";
import type * as grpc from "@grpc/grpc-js";
import {
  RiffleError,
  createLogger,
  createRegistry,
  encodeBatch,
  rpc,
  type ExecutionState,
  type Logger,
  type Registry,
  type RiffleConfig,
  type TaskDeploymentDescriptor,
  type CancelTaskRequest,
  type TriggerCheckpointRequest,
  type CheckpointNotification,
  type TaskMetricsReport,
  type JobRuntimeConfig,
  type JobVertex,
} from "@riffle/shared";
import { instantiateJob } from "@riffle/sdk/internal";
import { ConnectionManager, NetworkBufferPool, PartitionManager, exchangeHandler } from "./network/index.js";
import { Task, type TaskServices } from "./task/task.js";
import { TaskMetrics } from "./task/metrics.js";
import { JobManagerConnection } from "./rpc/jobmanager-connection.js";
import { BundleLoader } from "./bundles/bundle-loader.js";
import { DefaultTaskStateManager } from "./checkpoint/default-task-state.js";
import { registerTaskMetrics, userMetricGroup } from "./metrics/task-metrics.js";
import { startMetricsServer } from "./metrics/server.js";
import { createWorkDirectory, removeWorkDirectory, workDirectoryRoot } from "./workdir/index.js";

/**
 * A TaskManager process: offers slots to the JobManager, runs the tasks deployed to it, and exchanges
 * records with other TaskManagers. Node runs one event loop, so a TaskManager scales by processes.
 *
 * ```ts
 * const tm = await TaskManager.create(loadConfig({ overrides: { "taskmanager.jobmanager.address": "127.0.0.1:6123" } }));
 * await tm.terminated; // resolves on close, rejects when the JobManager stays unreachable
 * ```
 */
export class TaskManager {
  private readonly tasks = new Map<string, Task>();
  /**
   * Executions cancelled before their deployment arrived (the two travel on different calls): a late
   * deployment of one is refused instead of starting a task nobody will stop.
   */
  private readonly cancelledBeforeDeploy = new Set<string>();
  private connection: JobManagerConnection | undefined;
  private meterTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private resolveTerminated!: () => void;
  private rejectTerminated!: (err: Error) => void;
  /** Settles when the TaskManager stops: resolved by close(), rejected on a fatal error. */
  readonly terminated: Promise<void>;

  private constructor(
    readonly id: string,
    readonly address: string,
    readonly metricsPort: number,
    private readonly config: RiffleConfig,
    private readonly log: Logger,
    private readonly server: grpc.Server,
    private readonly metricsServer: HttpServer,
    private readonly registry: Registry,
    private readonly pool: NetworkBufferPool,
    private readonly partitions: PartitionManager,
    private readonly connections: ConnectionManager,
    private readonly workDir: string,
  ) {
    this.terminated = new Promise((resolve, reject) => {
      this.resolveTerminated = resolve;
      this.rejectTerminated = reject;
    });
    this.terminated.catch(() => {});
  }

  static async create(config: RiffleConfig, logger?: Logger): Promise<TaskManager> {
    const log = logger ?? createLogger("taskmanager");
    // Bundles carry inline source maps: failures then name the user's file and line.
    process.setSourceMapsEnabled(true);
    const host = config["taskmanager.host"];
    const bufferSize = config["taskmanager.network.buffer-size"];
    const totalBuffers = Math.floor(config["taskmanager.network.memory"] / bufferSize);
    if (totalBuffers < 16) {
      throw new RiffleError(
        "CONFIG_INVALID",
        `taskmanager.network.memory gives only ${totalBuffers} buffers of ${bufferSize} bytes; give it at least 16 buffers`,
      );
    }
    const pool = new NetworkBufferPool(totalBuffers, bufferSize);
    const partitions = new PartitionManager();
    const connections = new ConnectionManager();
    const registry = createRegistry("taskmanager");

    const server = rpc.createServer();
    let tm: TaskManager | undefined;
    rpc.addService(server, "TaskExecutorService", {
      DeployTask: rpc.handleUnary<TaskDeploymentDescriptor, object>((tdd) => {
        if (!tm) throw new RiffleError("INTERNAL", "the TaskManager is still starting");
        tm.deploy(tdd);
        return {};
      }),
      CancelTask: rpc.handleUnary<CancelTaskRequest, object>((req) => {
        tm?.cancel(req.jobId, req.executionId);
        return {};
      }),
      TriggerCheckpoint: rpc.handleUnary<TriggerCheckpointRequest, object>((req) => {
        tm?.taskOf(req.executionId).triggerCheckpoint(req);
        return {};
      }),
      NotifyCheckpointComplete: rpc.handleUnary<CheckpointNotification, object>((req) => {
        tm?.tasks.get(req.executionId)?.notifyCheckpointComplete(req.checkpointId);
        return {};
      }),
      NotifyCheckpointAborted: rpc.handleUnary<CheckpointNotification, object>((req) => {
        tm?.tasks.get(req.executionId)?.notifyCheckpointAborted(req.checkpointId);
        return {};
      }),
    });
    rpc.addService(server, "DataExchange", {
      Exchange: exchangeHandler(partitions, config["taskmanager.network.partition-request.timeout"], log.child({ subsystem: "network" })),
    });
    const port = await rpc.bindServer(server, host, config["taskmanager.rpc.port"]);
    let metrics: { server: HttpServer; port: number };
    try {
      metrics = await startMetricsServer(registry, host, config["taskmanager.metrics.port"]);
    } catch (err) {
      server.forceShutdown();
      throw err;
    }
    const id = config["taskmanager.id"] || `${host}:${port}-${randomUUID().slice(0, 6)}`;
    const workDir = createWorkDirectory(workDirectoryRoot(config["taskmanager.tmp.dir"]), log);
    tm = new TaskManager(
      id,
      `${host}:${port}`,
      metrics.port,
      config,
      log.child({ taskmanagerId: id }),
      server,
      metrics.server,
      registry,
      pool,
      partitions,
      connections,
      workDir,
    );
    registerTaskMetrics(registry, () => tm!.tasks.values(), pool);
    tm.meterTimer = setInterval(() => tm!.tickMeters(), 1000);
    tm.log.info({ taskmanagerId: id, rpcPort: port, metricsPort: metrics.port, networkBuffers: totalBuffers }, "TaskManager started");
    try {
      await tm.connect();
    } catch (err) {
      await tm.close();
      throw err;
    }
    return tm;
  }

  private readonly bundles = (() => {
    let loader: BundleLoader | undefined;
    return () => (loader ??= new BundleLoader(join(this.workDir, "bundles"), (hash) => this.connection!.getBundle(hash)));
  })();

  private jobManagerAddress(): string {
    return this.config["taskmanager.jobmanager.address"] || `${this.config["jobmanager.rpc.address"]}:${this.config["jobmanager.rpc.port"]}`;
  }

  private async connect(): Promise<void> {
    const address = this.jobManagerAddress();
    const connection = new JobManagerConnection(
      address,
      {
        taskmanagerId: this.id,
        address: this.address,
        slots: this.config["taskmanager.slots"],
        metricsAddress: `${this.config["taskmanager.host"]}:${this.metricsPort}`,
        pid: process.pid,
      },
      { onLost: (reason) => this.onJobManagerLost(reason), reports: () => this.reports() },
      this.log.child({ subsystem: "jobmanager-connection" }),
    );
    this.connection = connection;
    await connection.register(this.config["taskmanager.registration.timeout"]);
    this.log.info({ jobmanager: address, slots: this.config["taskmanager.slots"] }, "TaskManager registered");
  }

  /** Without its JobManager a TaskManager's tasks have no one to report to: cancel them, register again. */
  private onJobManagerLost(reason: string): void {
    if (this.closing) return;
    this.log.warn({ reason }, "lost the JobManager; cancelling tasks and registering again");
    for (const t of this.tasks.values()) t.cancel();
    this.connection?.close();
    this.connect().catch((err: Error) => {
      if (this.closing) return;
      this.log.error({ err: err.message }, "giving up on the JobManager");
      this.rejectTerminated(err);
    });
  }

  private deploy(tdd: TaskDeploymentDescriptor): void {
    if (this.closing) throw new RiffleError("TASK_DEPLOYMENT_FAILED", `TaskManager ${this.id} is shutting down`);
    if (this.tasks.has(tdd.executionId)) throw new RiffleError("TASK_DEPLOYMENT_FAILED", `execution ${tdd.executionId} is already deployed`);
    if (this.cancelledBeforeDeploy.delete(tdd.executionId)) {
      throw new RiffleError("TASK_DEPLOYMENT_FAILED", `execution ${tdd.executionId} was cancelled before its deployment arrived`);
    }
    const task = new Task(tdd, this.taskServices());
    this.tasks.set(tdd.executionId, task);
  }

  private taskOf(executionId: string): Task {
    const task = this.tasks.get(executionId);
    if (!task) throw new RiffleError("TASK_CANCELED", `execution ${executionId} is not running on TaskManager ${this.id}`);
    return task;
  }

  /**
   * Cancels a task. One this TaskManager does not know (its deployment never arrived, or it already
   * ended and was reported) is answered with CANCELED at once, so the JobManager need not wait.
   */
  private cancel(jobId: string, executionId: string): void {
    const task = this.tasks.get(executionId);
    if (task) {
      task.cancel();
      return;
    }
    // Unknown here: it ended already (a finished producer whose partitions may still hold buffers),
    // or its deployment has not arrived yet.
    this.partitions.releaseJob(jobId, new RiffleError("TASK_CANCELED", `job ${jobId} is being cancelled`));
    this.cancelledBeforeDeploy.add(executionId);
    if (this.cancelledBeforeDeploy.size > 10_000) this.cancelledBeforeDeploy.delete(this.cancelledBeforeDeploy.values().next().value!);
    this.connection
      ?.updateTaskState({ executionId, jobId, state: "CANCELED", errorCode: "", errorMessage: "" })
      .catch((err: Error) => this.log.warn({ executionId, err: err.message }, "could not report the cancellation"));
  }

  private taskServices(): TaskServices {
    const cfg = this.config;
    return {
      taskmanagerId: this.id,
      pool: this.pool,
      partitions: this.partitions,
      connections: this.connections,
      network: {
        bufferSize: cfg["taskmanager.network.buffer-size"],
        exclusiveBuffersPerChannel: cfg["taskmanager.network.exclusive-buffers-per-channel"],
        floatingBuffersPerGate: cfg["taskmanager.network.floating-buffers-per-gate"],
        maxBuffersPerSubpartition: cfg["taskmanager.network.max-buffers-per-subpartition"],
        partitionRequestTimeoutMs: cfg["taskmanager.network.partition-request.timeout"],
      },
      loadFunctions: async (tdd: TaskDeploymentDescriptor, config: JobRuntimeConfig, _vertex: JobVertex) => {
        const module = await this.bundles().load(tdd.bundleHash);
        return instantiateJob(module, config.args, functionCountOf(tdd));
      },
      sinkServices: (tdd) => {
        let sequence = 0;
        return {
          collect: (records) =>
            this.connection!.pushCollect({
              jobId: tdd.jobId,
              executionId: tdd.executionId,
              subtaskIndex: tdd.subtaskIndex,
              sequence: sequence++,
              records: encodeBatch(records),
            }),
        };
      },
      metricGroup: (tdd, taskName) =>
        userMetricGroup(this.registry, { job_id: tdd.jobId, vertex_id: tdd.vertexId, task_name: taskName, subtask_index: String(tdd.subtaskIndex) }),
      onStateChange: (task, state, error) => this.onTaskState(task, state, error),
      createStateManager: (tdd, config, vertex) =>
        DefaultTaskStateManager.create({
          tdd,
          vertex,
          backend: config.stateBackend ?? this.config["state.backend"],
          workDir: join(this.workDir, "state", tdd.executionId),
        }),
      acknowledgeCheckpoint: (ack) => this.connection!.acknowledgeCheckpoint(ack),
      declineCheckpoint: (decline) => this.connection!.declineCheckpoint(decline),
      log: this.log,
    };
  }

  private onTaskState(task: Task, state: ExecutionState, error?: RiffleError): void {
    const terminal = state === "FINISHED" || state === "FAILED" || state === "CANCELED";
    // A failed or cancelled task means its job fails, restarts or stops: no consumer will read the
    // job's partitions on this TaskManager any more, finished producers' included.
    if (state === "FAILED" || state === "CANCELED")
      this.partitions.releaseJob(task.tdd.jobId, error ?? new RiffleError("TASK_CANCELED", `a task of job ${task.tdd.jobId} ended`));
    this.connection
      ?.updateTaskState({
        executionId: task.tdd.executionId,
        jobId: task.tdd.jobId,
        state,
        errorCode: error?.code ?? "",
        errorMessage: error?.message ?? "",
        metrics: terminal ? reportOf(task) : null,
      })
      .catch((err: Error) => this.log.warn({ executionId: task.tdd.executionId, state, err: err.message }, "could not report the task state"));
    if (terminal) this.tasks.delete(task.tdd.executionId);
  }

  private tickMeters(): void {
    const now = performance.now();
    for (const t of this.tasks.values()) t.metrics.tick(now, t.recordsOut);
  }

  private reports(): TaskMetricsReport[] {
    return [...this.tasks.values()].map(reportOf);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.meterTimer) clearInterval(this.meterTimer);
    const running = [...this.tasks.values()];
    for (const t of running) t.cancel();
    await Promise.race([Promise.allSettled(running.map((t) => t.done)), new Promise((r) => setTimeout(r, 5000).unref())]);
    this.connection?.close();
    this.connections.close();
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    await new Promise<void>((resolve) => this.metricsServer.close(() => resolve()));
    removeWorkDirectory(this.workDir, this.log);
    this.log.info("TaskManager stopped");
    this.resolveTerminated();
  }
}

function reportOf(t: Task): TaskMetricsReport {
  return {
    executionId: t.tdd.executionId,
    jobId: t.tdd.jobId,
    vertexId: t.tdd.vertexId,
    subtaskIndex: t.tdd.subtaskIndex,
    recordsIn: t.metrics.recordsIn,
    recordsOut: t.recordsOut,
    bytesIn: t.metrics.bytesIn,
    bytesOut: t.bytesOut,
    busyMsPerSecond: TaskMetrics.perSecond(t.metrics.busy),
    idleMsPerSecond: TaskMetrics.perSecond(t.metrics.idle),
    backPressuredMsPerSecond: TaskMetrics.perSecond(t.metrics.backPressured),
    currentInputWatermark: t.currentInputWatermark,
    currentOutputWatermark: t.currentOutputWatermark,
  };
}

function functionCountOf(tdd: TaskDeploymentDescriptor): number {
  const config = JSON.parse(tdd.jobConfigJson) as Partial<JobRuntimeConfig>;
  if (typeof config.functionCount !== "number") throw new RiffleError("TASK_DEPLOYMENT_FAILED", "the deployment does not say how many functions the job has");
  return config.functionCount;
}
