import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { getHeapStatistics } from "node:v8";
import { MessageChannel, type MessagePort } from "node:worker_threads";
import {
  RiffleError,
  SystemClock,
  bundlePath,
  describeError,
  encodeBatch,
  Registry,
  rpc,
  type ExchangeRequest,
  type ExchangeResponse,
  type ExecutionState,
  type JobRuntimeConfig,
  type Logger,
  type TaskDeploymentDescriptor,
  type TaskMetricsReport,
} from "@riffle/shared";
import { instantiateJob, type OperatorEvent } from "@riffle/sdk/internal";
import type * as grpc from "@grpc/grpc-js";
import { DataConnections, NetworkBufferPool, PartitionManager, overGrpcCall, overPort, serveExchange } from "../network/index.js";
import { Task, type TaskServices } from "../task/task.js";
import { TaskMetrics } from "../task/metrics.js";
import { DefaultTaskStateManager } from "../checkpoint/default-task-state.js";
import { userMetricGroup } from "../metrics/user-metrics.js";
import type { FromWorker, SlotSnapshot, SlotWorkerData, TaskSnapshot, ToWorker } from "./protocol.js";

/** Where the runtime sends its messages: the worker's parentPort (a plain port in tests). */
export interface MainLink {
  postMessage(message: FromWorker, transfer?: MessagePort[]): void;
}

/**
 * The tasks of one slot, inside the slot's worker thread: it deploys them, gives them the slot's
 * network memory and partitions, and relays what they have to say to the main thread. It runs the
 * tasks of one job, its attempts one after another (the next job gets a fresh worker).
 */
export class SlotRuntime {
  private readonly tasks = new Map<string, Task>();
  private readonly numbers = new Map<Task, number>();
  private readonly pool: NetworkBufferPool;
  private readonly partitions = new PartitionManager();
  private readonly activity: Int32Array;
  private readonly userMetrics = new Registry();
  private readonly modules = new Map<string, Promise<unknown>>();
  private readonly pending = new Map<number, { resolve(): void; reject(err: Error): void }>();
  /** Per execution: the last of its reader's events to the coordinator, which the next one waits for. */
  private readonly eventsOut = new Map<string, Promise<void>>();
  private nextRequest = 0;
  private snapshotTimer: NodeJS.Timeout | undefined;
  /** This slot's streams to partitions on other TaskManagers. */
  private readonly connections: DataConnections;

  constructor(
    private readonly data: SlotWorkerData,
    private readonly main: MainLink,
    private readonly log: Logger,
  ) {
    this.pool = new NetworkBufferPool(data.segments, data.segmentSize);
    this.connections = new DataConnections(data.network.partitionRequestTimeoutMs);
    this.activity = new Int32Array(data.activity);
    this.activity[0] = -1;
  }

  /**
   * Starts the slot's data server, on which it serves its partitions to slots of other TaskManagers
   * (decision 0018), then says it is ready, with the server's port. The server ends with the worker.
   */
  async start(): Promise<void> {
    // No keepalive pings: user code may hold this thread for longer than a ping may wait (0018).
    const server = rpc.createServer({ keepalive: false });
    rpc.addService(server, "DataExchange", {
      Exchange: (call: grpc.ServerDuplexStream<ExchangeRequest, ExchangeResponse>) =>
        serveExchange(overGrpcCall(call), this.partitions, this.data.network.partitionRequestTimeoutMs, this.pool.segmentSize, this.log),
    });
    const dataPort = await rpc.bindServer(server, this.data.host, 0);
    this.main.postMessage({ type: "ready", dataPort });
    // Only after `ready`: the TaskManager takes the worker's first message for it.
    this.snapshotTimer = setInterval(() => void this.postSnapshot(), this.data.snapshotIntervalMs);
  }

  handle(msg: ToWorker): void {
    switch (msg.type) {
      case "deploy":
        this.deploy(msg.tdd, msg.taskNumber);
        return;
      case "cancel": {
        const task = this.tasks.get(msg.executionId);
        // A task that already ended may have left partitions (a finished producer): the job is being
        // cancelled, so nobody will read them.
        if (task) task.cancel();
        else this.partitions.releaseJob(msg.jobId, new RiffleError("TASK_CANCELED", `job ${msg.jobId} is being cancelled`));
        return;
      }
      case "trigger-checkpoint": {
        let error: { code: string; message: string } | undefined;
        try {
          const task = this.tasks.get(msg.request.executionId);
          if (!task) throw new RiffleError("TASK_CANCELED", `execution ${msg.request.executionId} is not running in slot ${this.data.slotIndex}`);
          task.triggerCheckpoint(msg.request);
        } catch (err) {
          const e = err instanceof RiffleError ? err : new RiffleError("INTERNAL", describeError(err));
          error = { code: e.code, message: e.message };
        }
        this.main.postMessage({ type: "reply", id: msg.id, ...(error ? { error } : {}) });
        return;
      }
      case "operator-event": {
        const task = this.tasks.get(msg.executionId);
        if (task) task.deliverOperatorEvent(msg.event);
        const error = task ? undefined : { code: "TASK_NOT_RUNNING", message: `execution ${msg.executionId} is not running in slot ${this.data.slotIndex}` };
        this.main.postMessage({ type: "reply", id: msg.id, ...(error ? { error } : {}) });
        return;
      }
      case "checkpoint-complete":
        this.tasks.get(msg.executionId)?.notifyCheckpointComplete(msg.checkpointId);
        return;
      case "checkpoint-aborted":
        this.tasks.get(msg.executionId)?.notifyCheckpointAborted(msg.checkpointId);
        return;
      case "snapshot-request":
        void this.snapshot().then((snapshot) => this.main.postMessage({ type: "snapshot", snapshot }));
        return;
      case "serve":
        serveExchange(overPort(msg.port), this.partitions, this.data.network.partitionRequestTimeoutMs, this.pool.segmentSize, this.log);
        return;
      case "reply": {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) p?.reject(new RiffleError(msg.error.code as never, msg.error.message));
        else p?.resolve();
        return;
      }
    }
  }

  private deploy(tdd: TaskDeploymentDescriptor, taskNumber: number): void {
    const task = new Task(tdd, this.services());
    this.tasks.set(tdd.executionId, task);
    this.numbers.set(task, taskNumber);
  }

  /**
   * Sends a reader's event to its coordinator, one after the other per task (a registration before the
   * split requests that follow it). An event the JobManager did not take fails the task: its
   * coordinator would wait for it forever.
   */
  private sendOperatorEvent(tdd: TaskDeploymentDescriptor, event: OperatorEvent): void {
    const previous = this.eventsOut.get(tdd.executionId) ?? Promise.resolve();
    const next = previous
      .then(() => this.request((id) => ({ type: "operator-event", id, jobId: tdd.jobId, executionId: tdd.executionId, event })))
      .catch((err: unknown) => {
        const task = this.tasks.get(tdd.executionId);
        task?.failFromOutside(
          new RiffleError(
            "OPERATOR_EVENT_LOST",
            `a ${event.type} event of the source reader did not reach its coordinator in the JobManager: ${describeError(err)}`,
          ),
        );
      });
    this.eventsOut.set(tdd.executionId, next);
    void next.then(() => {
      if (this.eventsOut.get(tdd.executionId) === next) this.eventsOut.delete(tdd.executionId);
    });
  }

  private request(make: (id: number) => FromWorker): Promise<void> {
    const id = this.nextRequest++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.main.postMessage(make(id));
    });
  }

  /** Imports the job bundle once per worker (the main thread stores it on disk first). */
  private loadModule(hash: string): Promise<unknown> {
    let m = this.modules.get(hash);
    if (!m) {
      m = this.request((id) => ({ type: "bundle", id, hash })).then(async () => {
        try {
          return await import(pathToFileURL(bundlePath(this.data.bundleDir, hash)).href);
        } catch (err) {
          throw new RiffleError("BUNDLE_INVALID", `cannot load the job bundle: ${describeError(err)}`, { cause: err });
        }
      });
      this.modules.set(hash, m);
      m.catch(() => this.modules.delete(hash));
    }
    return m;
  }

  private services(): TaskServices {
    const data = this.data;
    return {
      taskmanagerId: data.taskmanagerId,
      slotIndex: data.slotIndex,
      pool: this.pool,
      partitions: this.partitions,
      network: data.network,
      openChannel: (channel, consumer) => {
        // Another TaskManager: straight to the producing slot's data server. Another slot of this
        // one: a port the main thread hands to the producer's worker.
        if (channel.taskmanagerId !== data.taskmanagerId) return this.connections.open(channel.address, channel.partitionId);
        const { port1, port2 } = new MessageChannel();
        this.main.postMessage({ type: "open-channel", port: port2, channel, consumer }, [port2]);
        return overPort(port1);
      },
      loadFunctions: async (tdd: TaskDeploymentDescriptor, config: JobRuntimeConfig) => {
        const module = await this.loadModule(tdd.bundleHash);
        if (typeof config.functionCount !== "number")
          throw new RiffleError("TASK_DEPLOYMENT_FAILED", "the deployment does not say how many functions the job has");
        return instantiateJob(module, config.args, config.functionCount);
      },
      sinkServices: (tdd) => {
        let sequence = 0;
        return {
          collect: (records) => {
            const seq = sequence++;
            return this.request((id) => ({
              type: "collect",
              id,
              jobId: tdd.jobId,
              executionId: tdd.executionId,
              subtaskIndex: tdd.subtaskIndex,
              sequence: seq,
              records: encodeBatch(records),
            }));
          },
        };
      },
      metricGroup: (tdd, taskName) =>
        userMetricGroup(this.userMetrics, { job_id: tdd.jobId, vertex_id: tdd.vertexId, task_name: taskName, subtask_index: String(tdd.subtaskIndex) }),
      onStateChange: (task, state, error) => this.onTaskState(task, state, error),
      createStateManager: (tdd, config, vertex) =>
        DefaultTaskStateManager.create({
          tdd,
          vertex,
          backend: config.stateBackend ?? data.stateBackend,
          workDir: join(data.stateDir, tdd.executionId),
        }),
      acknowledgeCheckpoint: async (ack) => this.main.postMessage({ type: "ack", ack }),
      sendOperatorEvent: (tdd, event) => this.sendOperatorEvent(tdd, event),
      declineCheckpoint: async (decline) => this.main.postMessage({ type: "decline", decline }),
      enter: (task) => {
        this.activity[0] = this.numbers.get(task) ?? -1;
      },
      log: this.log,
    };
  }

  private onTaskState(task: Task, state: ExecutionState, error?: RiffleError): void {
    const terminal = state === "FINISHED" || state === "FAILED" || state === "CANCELED";
    // A failed or cancelled task means its job fails, restarts or stops: no consumer will read the
    // job's partitions in this slot any more, finished producers' included.
    if (state === "FAILED" || state === "CANCELED")
      this.partitions.releaseJob(task.tdd.jobId, error ?? new RiffleError("TASK_CANCELED", `a task of job ${task.tdd.jobId} ended`));
    this.main.postMessage({
      type: "task-state",
      executionId: task.tdd.executionId,
      jobId: task.tdd.jobId,
      state,
      errorCode: error?.code ?? "",
      errorMessage: error?.message ?? "",
      metrics: terminal ? reportOf(task) : null,
    });
    if (terminal) {
      this.tasks.delete(task.tdd.executionId);
      this.numbers.delete(task);
      if (this.tasks.size === 0) this.activity[0] = -1;
    }
  }

  private async postSnapshot(): Promise<void> {
    const now = performance.now();
    for (const t of this.tasks.values()) t.metrics.tick(now, t.recordsOut);
    this.main.postMessage({ type: "snapshot", snapshot: await this.snapshot() });
  }

  async snapshot(): Promise<SlotSnapshot> {
    const heap = getHeapStatistics();
    return {
      tasks: [...this.tasks.values()].map(snapshotOf),
      segmentsTotal: this.pool.totalSegments,
      segmentsAvailable: this.pool.availableSegments,
      heapUsedBytes: heap.used_heap_size,
      heapTotalBytes: heap.total_heap_size,
      heapLimitBytes: heap.heap_size_limit,
      userMetrics: await this.userMetrics.getMetricsAsJSON(),
    };
  }

  /** Cancels every task and waits (briefly) for them: the worker is about to be discarded. */
  async close(): Promise<void> {
    if (this.snapshotTimer) clearInterval(this.snapshotTimer);
    const running = [...this.tasks.values()];
    for (const t of running) t.cancel();
    await Promise.race([Promise.allSettled(running.map((t) => t.done)), new Promise((r) => setTimeout(r, 5000).unref())]);
  }
}

export function reportOf(t: Task): TaskMetricsReport {
  return {
    executionId: t.tdd.executionId,
    jobId: t.tdd.jobId,
    vertexId: t.tdd.vertexId,
    subtaskIndex: t.tdd.subtaskIndex,
    recordsIn: t.metrics.recordsIn,
    recordsOut: t.recordsOut,
    bytesIn: t.bytesIn,
    bytesOut: t.bytesOut,
    busyMsPerSecond: TaskMetrics.perSecond(t.metrics.busy),
    idleMsPerSecond: TaskMetrics.perSecond(t.metrics.idle),
    backPressuredMsPerSecond: TaskMetrics.perSecond(t.metrics.backPressured),
    currentInputWatermark: t.currentInputWatermark,
    currentOutputWatermark: t.currentOutputWatermark,
    outPoolUsage: t.outPoolUsage(),
    inPoolUsage: t.inPoolUsage(),
    measuredAtMs: SystemClock.now(),
    pendingRecords: t.pendingRecords(),
    sourceRecordsOut: t.sourceRecordsOut,
  };
}

function snapshotOf(t: Task): TaskSnapshot {
  return {
    report: reportOf(t),
    taskName: t.vertex.name,
    recordsInPerSecond: t.metrics.recordsInRate.rate(),
    recordsOutPerSecond: t.metrics.recordsOutRate.rate(),
    numLateRecordsDropped: t.numLateRecordsDropped,
    inputQueueLength: t.inputQueueLength(),
    outputSpilledBytes: t.spilledBytes(),
  };
}
