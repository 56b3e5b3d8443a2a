import { join } from "node:path";
import { randomUUID } from "node:crypto";
import type { Server as HttpServer } from "node:http";
import type { MessagePort } from "node:worker_threads";
import type * as grpc from "@grpc/grpc-js";
import {
  RiffleError,
  createLogger,
  createRegistry,
  describeError,
  rpc,
  type ChannelDeployment,
  type Logger,
  type RiffleConfig,
  type TaskDeploymentDescriptor,
  type CancelTaskRequest,
  type TriggerCheckpointRequest,
  type CheckpointNotification,
  type OperatorEventRequest,
  type LocateRequest,
  type LocateResponse,
  type TaskMetricsReport,
  type JobManagerHeartbeat,
  type FencingToken,
  isOlderFencingToken,
} from "@riffle/shared";
import type { OperatorEvent } from "@riffle/sdk/internal";
import { JobManagerConnection } from "./rpc/jobmanager-connection.js";
import { ExecutionReconciler, FencingGuard, jobManagerAddresses } from "./leader/index.js";
import { BundleStore } from "./bundles/bundle-store.js";
import { metricsText, registerTaskMetrics } from "./metrics/task-metrics.js";
import { startMetricsServer } from "./metrics/server.js";
import { PartitionDirectory } from "./exchange/index.js";
import { SlotHost, configureV8, type SlotEvents, type SlotSnapshot, type SlotWorker } from "./slot/index.js";
import type { PortEnvelope } from "./network/port-stream.js";
import { WorkDirectory, workDirectoryRoot } from "./workdir/index.js";

/**
 * How long the close waits for the servers' calls and connections to end (a peer still pulling a
 * partition, a scrape in progress) before it cuts them.
 */
const SERVER_SHUTDOWN_TIMEOUT_MS = 3000;

/** Shuts the gRPC and metrics servers down, gracefully for at most `timeoutMs`, then by force. */
async function closeServers(server: grpc.Server, metricsServer: HttpServer, timeoutMs: number, log: Logger): Promise<void> {
  const timer = setTimeout(() => {
    log.warn({ timeoutMs }, "calls or connections still open at shutdown; closing them");
    server.forceShutdown();
    metricsServer.closeAllConnections();
  }, timeoutMs);
  try {
    await Promise.all([
      new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
      new Promise<void>((resolve) => metricsServer.close(() => resolve())),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A slot's network memory must hold at least this many segments (a channel's credits and a few outputs). */
const MIN_SEGMENTS_PER_SLOT = 16;
/** How long a scrape of /metrics waits for a slot's fresh snapshot before it takes the last one. */
const SCRAPE_SNAPSHOT_TIMEOUT_MS = 250;

/**
 * A TaskManager process: offers slots to the JobManager, runs the tasks deployed to it, and exchanges
 * records with other TaskManagers (decision record 0006). The main thread is the control plane
 * (registration, heartbeats, RPC, metrics, the gRPC data bridges); each slot is a worker thread that
 * runs the tasks of one job attempt, so a task that computes, hangs, runs out of memory or calls
 * `process.exit` costs its own slot at most.
 *
 * ```ts
 * const tm = await TaskManager.create(loadConfig({ overrides: { "taskmanager.jobmanager.address": "127.0.0.1:6123" } }));
 * await tm.terminated; // resolves on close, rejects when the JobManager stays unreachable
 * ```
 */
export class TaskManager {
  private readonly slots: SlotHost[] = [];
  private readonly directory = new PartitionDirectory<SlotWorker>();
  /**
   * Executions cancelled before their deployment arrived (the two travel on different calls): a late
   * deployment of one is refused instead of starting a task nobody will stop.
   */
  private readonly cancelledBeforeDeploy = new Set<string>();
  private connection: JobManagerConnection | undefined;
  private closing = false;
  private closed: Promise<void> | undefined;
  private resolveTerminated!: () => void;
  private rejectTerminated!: (err: Error) => void;
  /** Settles when the TaskManager stops: resolved by close(), rejected on a fatal error. */
  readonly terminated: Promise<void>;
  private readonly bundles: BundleStore;
  /** Created with the TaskManager: its grace period is the heartbeat timeout. */
  private readonly reconciler: ExecutionReconciler;
  /** The leader this TaskManager is registered with (its id in the election), for logs. */
  private leaderId = "";

  private constructor(
    readonly id: string,
    readonly address: string,
    readonly metricsPort: number,
    private readonly config: RiffleConfig,
    private readonly log: Logger,
    private readonly server: grpc.Server,
    private readonly metricsServer: HttpServer,
    private readonly workDir: WorkDirectory,
    /** Refuses commands of deposed JobManager leaders. */
    private readonly fencing: FencingGuard,
  ) {
    // A task is cancelled as stale only once the leader left it out for a heartbeat timeout: under
    // load, heartbeats computed before its deployment may arrive after it.
    this.reconciler = new ExecutionReconciler(config["heartbeat.timeout"]);
    this.terminated = new Promise((resolve, reject) => {
      this.resolveTerminated = resolve;
      this.rejectTerminated = reject;
    });
    this.terminated.catch(() => {});
    this.bundles = new BundleStore(join(workDir.path, "bundles"), (hash) => this.connection!.getBundle(hash));
    fencing.onNewLeader((token, previous) => {
      if (previous !== undefined) this.cancelTasksOfOlderLeaders(token);
    });
  }

  /**
   * Starts the TaskManager and registers it with its JobManager. `signal` aborts the registration
   * (a shutdown requested meanwhile): the TaskManager then closes and the promise rejects with the
   * abort's reason.
   */
  static async create(config: RiffleConfig, logger?: Logger, signal?: AbortSignal): Promise<TaskManager> {
    const log = logger ?? createLogger("taskmanager");
    // Bundles carry inline source maps: failures then name the user's file and line.
    process.setSourceMapsEnabled(true);
    const host = config["taskmanager.host"];
    const slots = config["taskmanager.slots"];
    const segmentSize = config["taskmanager.memory.segment-size"];
    const segmentsPerSlot = Math.floor(config["taskmanager.memory.network.size"] / slots / segmentSize);
    if (segmentsPerSlot < MIN_SEGMENTS_PER_SLOT) {
      throw new RiffleError(
        "CONFIG_INVALID",
        `taskmanager.memory.network.size gives each of the ${slots} slots only ${segmentsPerSlot} segments of ${segmentSize} bytes; give each slot at least ${MIN_SEGMENTS_PER_SLOT}`,
      );
    }
    const registry = createRegistry("taskmanager");
    const addresses = jobManagerAddresses(config["taskmanager.jobmanager.address"], `${config["jobmanager.rpc.address"]}:${config["jobmanager.rpc.port"]}`);
    const fencing = new FencingGuard(log.child({ subsystem: "fencing" }), registry);
    const server = rpc.createServer();
    let tm: TaskManager | undefined;
    const started = () => {
      if (!tm) throw new RiffleError("INTERNAL", "the TaskManager is still starting");
      return tm;
    };
    rpc.addService(server, "TaskExecutorService", {
      // Every command is checked against the newest fencing token first: a deposed leader's is refused.
      DeployTask: rpc.handleUnary<TaskDeploymentDescriptor, object>(async (tdd) => {
        fencing.check(tdd.fencingToken, "DeployTask", `execution ${tdd.executionId}`);
        await started().deploy(tdd);
        // A newer leader reached this TaskManager while the task was being deployed: it is stale already.
        started().cancelTasksOfOlderLeaders(fencing.newest);
        return {};
      }),
      CancelTask: rpc.handleUnary<CancelTaskRequest, object>((req) => {
        fencing.check(req.fencingToken, "CancelTask", `execution ${req.executionId}`);
        tm?.cancel(req.jobId, req.executionId);
        return {};
      }),
      TriggerCheckpoint: rpc.handleUnary<TriggerCheckpointRequest, object>(async (req) => {
        fencing.check(req.fencingToken, "TriggerCheckpoint", `checkpoint ${req.checkpointId} of execution ${req.executionId}`);
        await started().slotOf(req.executionId).triggerCheckpoint(req);
        return {};
      }),
      NotifyCheckpointComplete: rpc.handleUnary<CheckpointNotification, object>((req) => {
        fencing.check(req.fencingToken, "NotifyCheckpointComplete", `checkpoint ${req.checkpointId} of execution ${req.executionId}`);
        tm?.notifyCheckpoint("checkpoint-complete", req);
        return {};
      }),
      NotifyCheckpointAborted: rpc.handleUnary<CheckpointNotification, object>((req) => {
        fencing.check(req.fencingToken, "NotifyCheckpointAborted", `checkpoint ${req.checkpointId} of execution ${req.executionId}`);
        tm?.notifyCheckpoint("checkpoint-aborted", req);
        return {};
      }),
      SendOperatorEvent: rpc.handleUnary<OperatorEventRequest, object>(async (req) => {
        fencing.check(req.fencingToken, "SendOperatorEvent", `an event for execution ${req.executionId}`);
        await started().slotOf(req.executionId).deliverOperatorEvent(req.executionId, parseOperatorEvent(req.eventJson));
        return {};
      }),
    });
    // Slots of other TaskManagers ask here which slot's data server serves a partition (decision 0018).
    rpc.addService(server, "PartitionLocation", {
      Locate: rpc.handleUnary<LocateRequest, LocateResponse>(async (req) => ({ port: await started().dataPortOf(req.partitionId) })),
    });
    const port = await rpc.bindServer(server, host, config["taskmanager.rpc.port"]);
    let metrics: { server: HttpServer; port: number };
    try {
      metrics = await startMetricsServer(
        async () => {
          await tm?.refreshSnapshots();
          return metricsText(registry, tm?.snapshots().values() ?? []);
        },
        registry.contentType,
        host,
        config["taskmanager.metrics.port"],
      );
    } catch (err) {
      server.forceShutdown();
      throw err;
    }
    const id = config["taskmanager.id"] || `${host}:${port}-${randomUUID().slice(0, 6)}`;
    let workDir: WorkDirectory;
    try {
      workDir = await WorkDirectory.create(workDirectoryRoot(config["taskmanager.tmp.dir"]), log);
    } catch (err) {
      server.forceShutdown();
      metrics.server.close();
      throw err;
    }
    tm = new TaskManager(id, `${host}:${port}`, metrics.port, config, log.child({ taskmanagerId: id }), server, metrics.server, workDir, fencing);
    tm.addresses = addresses;
    registerTaskMetrics(
      registry,
      () => tm!.taskSnapshots(),
      () => tm!.snapshots(),
    );
    try {
      await tm.startSlots(segmentsPerSlot, segmentSize);
      tm.log.info(
        { taskmanagerId: id, rpcPort: port, metricsPort: metrics.port, slots, segmentsPerSlot, segmentSize, workDir: workDir.path },
        "TaskManager started",
      );
      await tm.connect(signal);
    } catch (err) {
      await tm.close();
      throw err;
    }
    return tm;
  }

  /** Starts every slot's worker and waits until they are ready to take tasks. */
  private async startSlots(segments: number, segmentSize: number): Promise<void> {
    const cfg = this.config;
    const events = this.slotEvents();
    const heapBytes = cfg["taskmanager.memory.slot.heap-size"];
    configureV8({ parallelScavenge: cfg["taskmanager.v8.parallel-scavenge"] });
    for (let i = 0; i < cfg["taskmanager.slots"]; i++) {
      this.slots.push(
        new SlotHost(
          i,
          {
            worker: {
              taskmanagerId: this.id,
              host: cfg["taskmanager.host"],
              segments,
              segmentSize,
              network: {
                exclusiveBuffersPerChannel: cfg["taskmanager.network.exclusive-buffers-per-channel"],
                floatingBuffersPerGate: cfg["taskmanager.network.floating-buffers-per-gate"],
                maxBuffersPerSubpartition: cfg["taskmanager.network.max-buffers-per-subpartition"],
                partitionRequestTimeoutMs: cfg["taskmanager.network.partition-request.timeout"],
              },
              bundleDir: this.bundles.dir,
              stateDir: join(this.workDir.path, "state"),
              stateBackend: cfg["state.backend"],
              snapshotIntervalMs: 1000,
            },
            heapLimitMb: Math.ceil(heapBytes / (1024 * 1024)),
            cancellationTimeoutMs: cfg["task.cancellation.timeout"],
          },
          events,
          this.log.child({ subsystem: "slot" }),
        ),
      );
    }
    await Promise.all(this.slots.map((s) => s.ready));
  }

  private slotEvents(): SlotEvents {
    return {
      taskState: (u) => {
        this.connection
          ?.updateTaskState(u)
          .catch((err: Error) => this.log.warn({ executionId: u.executionId, state: u.state, err: err.message }, "could not report the task state"));
      },
      acknowledge: (ack) => {
        this.connection
          ?.acknowledgeCheckpoint(ack)
          .catch((err: unknown) => this.log.warn({ checkpointId: ack.checkpointId, err: describeError(err) }, "could not acknowledge the checkpoint"));
      },
      decline: (decline) => {
        this.connection
          ?.declineCheckpoint(decline)
          .catch((err: unknown) => this.log.warn({ checkpointId: decline.checkpointId, err: describeError(err) }, "could not decline the checkpoint"));
      },
      collect: (batch) => {
        if (!this.connection) return Promise.reject(new RiffleError("JOBMANAGER_UNREACHABLE", "no JobManager to send results to"));
        return this.connection.pushCollect(batch);
      },
      ensureBundle: (hash) => this.bundles.ensure(hash),
      operatorEvent: (event) => {
        if (!this.connection) return Promise.reject(new RiffleError("JOBMANAGER_UNREACHABLE", "no JobManager to send the event to"));
        return this.connection.sendOperatorEvent(event);
      },
      openChannel: (port, channel, consumer) => this.openChannel(port, channel, consumer),
      partitionsDeployed: (worker, ids) => {
        for (const id of ids) this.directory.register(id, worker);
      },
      workerGone: (worker) => this.directory.removeOwner(worker),
    };
  }

  /**
   * A channel of a slot reads a partition of another slot of this TaskManager: the port goes to the
   * producer's worker, and the two workers then talk directly. (A slot opens streams to other
   * TaskManagers itself, to their slots' data servers.)
   */
  private openChannel(port: MessagePort, channel: ChannelDeployment, consumer: string): void {
    this.directory.waitFor(channel.partitionId, this.config["taskmanager.network.partition-request.timeout"]).then(
      (worker) => worker.post({ type: "serve", port }, [port]),
      (err: RiffleError) => {
        this.log.warn({ partitionId: channel.partitionId, consumer }, err.message);
        port.postMessage({ type: "message", message: { error: { code: err.code, message: err.message } } } satisfies PortEnvelope<unknown>);
        port.postMessage({ type: "end" } satisfies PortEnvelope<unknown>);
        port.close();
      },
    );
  }

  /** The data port of the slot producing `partitionId`, once it is deployed here (see PartitionLocation). */
  private async dataPortOf(partitionId: string): Promise<number> {
    const worker = await this.directory.waitFor(partitionId, this.config["taskmanager.network.partition-request.timeout"]);
    return worker.dataPort;
  }

  /** The JobManagers to register with, in the order tried (several for a highly available cluster). */
  private addresses: string[] = [];

  private async connect(signal?: AbortSignal): Promise<void> {
    this.reconciler.reset();
    const connection = new JobManagerConnection(
      this.addresses,
      {
        taskmanagerId: this.id,
        address: this.address,
        slots: this.config["taskmanager.slots"],
        metricsAddress: `${this.config["taskmanager.host"]}:${this.metricsPort}`,
        pid: process.pid,
      },
      {
        onLost: (reason) => this.onJobManagerLost(reason),
        onHeartbeat: (heartbeat) => this.onJobManagerHeartbeat(heartbeat),
        reports: () => this.reports(),
      },
      this.log.child({ subsystem: "jobmanager-connection" }),
    );
    this.connection = connection;
    const registration = await connection.register(this.config["taskmanager.registration.timeout"], signal);
    const newLeader = this.fencing.observe(registration.fencingToken);
    const previousLeader = this.leaderId;
    this.leaderId = registration.leaderId;
    this.log.info(
      {
        jobmanager: connection.address,
        leaderId: registration.leaderId || null,
        fencingToken: registration.fencingToken || null,
        slots: this.config["taskmanager.slots"],
        ...(newLeader && previousLeader && previousLeader !== registration.leaderId ? { previousLeader } : {}),
      },
      "TaskManager registered",
    );
  }

  /**
   * A heartbeat of the leader: its token (a newer leader may have taken over meanwhile, then this one's
   * heartbeats are ignored), and the executions it believes run here: tasks it left out twice in a row
   * are cancelled.
   */
  private onJobManagerHeartbeat(heartbeat: JobManagerHeartbeat): void {
    const newest = this.fencing.newest;
    if (heartbeat.fencingToken && newest && heartbeat.fencingToken < newest) return;
    this.fencing.observe(heartbeat.fencingToken);
    const live = this.slots.flatMap((s) => s.liveExecutions());
    for (const task of this.reconciler.reconcile(live, heartbeat.executionIds, Date.now())) {
      this.log.warn(
        { executionId: task.executionId, jobId: task.jobId, leaderId: this.leaderId },
        "cancelling a task the JobManager no longer lists in its heartbeats (stale)",
      );
      this.cancel(task.jobId, task.executionId);
    }
  }

  /**
   * A newer leadership reached this TaskManager (a registration answer, a heartbeat or a command):
   * tasks an older leader deployed are cancelled at once, not after the heartbeat reconciliation's
   * grace period. Such a task can be left when a deposed leader's deployment arrived after this
   * TaskManager lost it and before it registered with the new one.
   */
  private cancelTasksOfOlderLeaders(newest: FencingToken | undefined): void {
    if (newest === undefined) return;
    for (const task of this.slots.flatMap((s) => s.liveExecutions())) {
      if (!task.fencingToken || !isOlderFencingToken(task.fencingToken as FencingToken, newest)) continue;
      this.log.warn(
        { executionId: task.executionId, jobId: task.jobId, fencingToken: task.fencingToken, newest },
        "cancelling a task deployed by an earlier JobManager leader",
      );
      this.cancel(task.jobId, task.executionId);
    }
  }

  /** Without its JobManager a TaskManager's tasks have no one to report to: cancel them, register again. */
  private onJobManagerLost(reason: string): void {
    if (this.closing) return;
    this.log.warn({ reason, jobmanager: this.connection?.address }, "lost the JobManager; cancelling tasks and registering again");
    for (const slot of this.slots) slot.cancelAll();
    this.connection?.close();
    this.connect().catch((err: Error) => {
      if (this.closing) return;
      this.log.error({ err: err.message }, "giving up on the JobManager");
      this.rejectTerminated(err);
    });
  }

  private async deploy(tdd: TaskDeploymentDescriptor): Promise<void> {
    if (this.closing) throw new RiffleError("TASK_DEPLOYMENT_FAILED", `TaskManager ${this.id} is shutting down`);
    const slot = this.slots[tdd.slotIndex];
    if (!slot) throw new RiffleError("TASK_DEPLOYMENT_FAILED", `TaskManager ${this.id} has no slot ${tdd.slotIndex} (it has ${this.slots.length})`);
    if (this.slots.some((s) => s.hasTask(tdd.executionId))) throw new RiffleError("TASK_DEPLOYMENT_FAILED", `execution ${tdd.executionId} is already deployed`);
    if (this.cancelledBeforeDeploy.delete(tdd.executionId)) {
      throw new RiffleError("TASK_DEPLOYMENT_FAILED", `execution ${tdd.executionId} was cancelled before its deployment arrived`);
    }
    const vertex = JSON.parse(tdd.vertexJson) as { name: string };
    await slot.deploy(tdd, `${vertex.name} (${tdd.subtaskIndex + 1}/${tdd.parallelism})`);
  }

  private slotOf(executionId: string): SlotHost {
    const slot = this.slots.find((s) => s.hasTask(executionId));
    if (!slot) throw new RiffleError("TASK_CANCELED", `execution ${executionId} is not running on TaskManager ${this.id}`);
    return slot;
  }

  private notifyCheckpoint(type: "checkpoint-complete" | "checkpoint-aborted", req: CheckpointNotification): void {
    for (const s of this.slots) s.notifyCheckpoint(type, req.executionId, req.checkpointId);
  }

  /**
   * Cancels a task. One this TaskManager does not know (its deployment never arrived, or it already
   * ended and was reported) is answered with CANCELED at once, so the JobManager need not wait.
   */
  private cancel(jobId: string, executionId: string): void {
    for (const s of this.slots) if (s.cancel(jobId, executionId)) return;
    // Unknown here: it ended already (a finished producer whose partitions may still hold segments),
    // or its deployment has not arrived yet.
    for (const s of this.slots) s.releaseJob(jobId, executionId);
    this.cancelledBeforeDeploy.add(executionId);
    if (this.cancelledBeforeDeploy.size > 10_000) this.cancelledBeforeDeploy.delete(this.cancelledBeforeDeploy.values().next().value!);
    this.connection
      ?.updateTaskState({ executionId, jobId, state: "CANCELED", errorCode: "", errorMessage: "", metrics: null })
      .catch((err: Error) => this.log.warn({ executionId, err: err.message }, "could not report the cancellation"));
  }

  /** Fresh snapshots of every slot, for a scrape of /metrics. */
  private async refreshSnapshots(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.freshSnapshot(SCRAPE_SNAPSHOT_TIMEOUT_MS)));
  }

  /** Each slot's last snapshot, by slot index. */
  private snapshots(): Map<number, SlotSnapshot> {
    const out = new Map<number, SlotSnapshot>();
    for (const s of this.slots) {
      const snapshot = s.snapshot;
      if (snapshot) out.set(s.index, snapshot);
    }
    return out;
  }

  private *taskSnapshots() {
    for (const s of this.slots) {
      for (const t of s.snapshot?.tasks ?? []) if (s.hasTask(t.report.executionId)) yield t;
    }
  }

  private reports(): TaskMetricsReport[] {
    return [...this.taskSnapshots()].map((t) => t.report);
  }

  /** Stops the slots, removes the work directory, then the servers. Every call gets the same promise. */
  close(): Promise<void> {
    this.closed ??= this.stop();
    return this.closed;
  }

  private async stop(): Promise<void> {
    this.closing = true;
    await Promise.allSettled(this.slots.map((s) => s.close()));
    // The slots no longer use it; whatever happens to the servers below, it is gone.
    await this.workDir.remove();
    this.connection?.close();
    await closeServers(this.server, this.metricsServer, SERVER_SHUTDOWN_TIMEOUT_MS, this.log);
    this.log.info("TaskManager stopped");
    this.resolveTerminated();
  }
}

/** The event of a SendOperatorEvent call; a malformed one is refused (BAD_REQUEST), as any bad request. */
function parseOperatorEvent(json: string): OperatorEvent {
  let event: unknown;
  try {
    event = JSON.parse(json);
  } catch (err) {
    throw new RiffleError("BAD_REQUEST", `an operator event is not JSON: ${(err as Error).message}`);
  }
  if (typeof (event as { type?: unknown } | null)?.type !== "string") throw new RiffleError("BAD_REQUEST", "an operator event has no type");
  return event as OperatorEvent;
}
