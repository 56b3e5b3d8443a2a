import { setFlagsFromString } from "node:v8";
import { type MessagePort, Worker } from "node:worker_threads";
import {
  RiffleError,
  describeError,
  type AcknowledgeCheckpointRequest,
  type ChannelDeployment,
  type DeclineCheckpointRequest,
  type ErrorCode,
  type ExecutionState,
  type Logger,
  type OperatorEventRequest,
  type TaskDeploymentDescriptor,
  type TaskMetricsReport,
  type TriggerCheckpointRequest,
} from "@riffle/shared";
import type { OperatorEvent } from "@riffle/sdk/internal";
import type { FromWorker, SlotSnapshot, SlotWorkerData, ToWorker } from "./protocol.js";

const WORKER_SCRIPT = new URL("./slot-worker.js", import.meta.url);
/**
 * Job bundles a worker imports before it is replaced by a fresh one (at a deployment with no task
 * running): a module stays loaded as long as its worker lives, so this bounds what accumulates.
 */
const MAX_BUNDLES_PER_WORKER = 20;

/**
 * V8 settings of the TaskManager process (decisions 0019 and 0020), applied once, before the first slot worker
 * starts: V8 flags belong to the process and hold for every worker started after they are set.
 *
 * - Compiled code is kept between jobs (`--no-flush-bytecode`). V8 drops the bytecode of a function,
 *   and with it the function's optimized code, once the function has not run through
 *   --bytecode-old-age (5) full collections, and V8's memory reducer runs such collections on a heap
 *   at rest. The task loop, operators and codecs of a slot rest between jobs, so a job that came after
 *   a few seconds of quiet ran on code compiled again from scratch: on the keyed shuffle, ~190–210 ns
 *   of worker CPU per record against ~150 (bench/dev/keyed-shuffle-threads.ts with IDLE_MS=6000).
 *   What is kept is bounded: the runtime's own code, and the bundles a worker imports (a worker is
 *   replaced after MAX_BUNDLES_PER_WORKER).
 * - Young-generation collections run on the collecting thread alone unless `parallelScavenge`
 *   (taskmanager.v8.parallel-scavenge). With a slot per core, V8's helper threads compete with the
 *   slot workers for the cores: alternated runs of the keyed shuffle measured ~9% less CPU per record
 *   without them (bench/dev/keyed-shuffle-ab.ts).
 * - Optimized functions may inline more (`--max-inlined-bytecode-size-cumulative`, 3000 bytes of
 *   bytecode against V8's 920; decision 0020). A record's path through a slot is a few large
 *   functions (the task loop's source step and input batch) that call many small ones; with V8's
 *   budget, whether the murmur3 hash, the keyed operator or the record writer got inlined depended on
 *   the order in which V8 saw them, and a process ran the keyed shuffle at one of two speeds
 *   (~290 or ~460 ns of CPU per record, bench/dev/keyed-shuffle-in-process.ts), the slower one most
 *   of the time.
 *
 * The first flag makes V8 reject Node's built-in code cache (it is tied to the flags), so the first
 * worker of a process starts ~25 ms later while Node compiles its own modules once.
 */
let v8Configured = false;
export function configureV8(options: { parallelScavenge: boolean }): void {
  if (v8Configured) return;
  for (const flag of taskManagerV8Flags(options)) setFlagsFromString(flag);
  v8Configured = true;
}

/** Bytecode bytes an optimized function may inline in all (V8's default: 920); see configureV8. */
const INLINED_BYTECODE_BUDGET = 3000;

/** The V8 flags configureV8 sets (also given to the keyed shuffle's raw gRPC baseline, so both sides run alike). */
export function taskManagerV8Flags(options: { parallelScavenge: boolean }): string[] {
  const flags = ["--no-flush-bytecode", `--max-inlined-bytecode-size-cumulative=${INLINED_BYTECODE_BUDGET}`];
  return options.parallelScavenge ? flags : [...flags, "--no-parallel-scavenge"];
}

/** What a slot asks of its TaskManager. */
export interface SlotEvents {
  taskState(update: {
    executionId: string;
    jobId: string;
    state: ExecutionState;
    errorCode: string;
    errorMessage: string;
    metrics: TaskMetricsReport | null;
  }): void;
  acknowledge(ack: AcknowledgeCheckpointRequest): void;
  decline(decline: DeclineCheckpointRequest): void;
  collect(batch: { jobId: string; executionId: string; subtaskIndex: number; sequence: number; records: Buffer }): Promise<void>;
  /** Stores the bundle in the bundle directory if it is not there yet. */
  ensureBundle(hash: string): Promise<void>;
  /** An event of a task's source reader for its coordinator in the JobManager; resolves once the JobManager took it. */
  operatorEvent(event: OperatorEventRequest): Promise<void>;
  /** A channel of this slot reads `channel`'s partition elsewhere; `port` is the producer's end. */
  openChannel(port: MessagePort, channel: ChannelDeployment, consumer: string): void;
  /** The partitions a deployment produces are in `worker` from now on (until it is gone). */
  partitionsDeployed(worker: SlotWorker, partitionIds: string[]): void;
  /** `worker` is gone: nothing can be read from it any more. */
  workerGone(worker: SlotWorker): void;
}

export interface SlotOptions {
  /** Everything a worker starts with but the slot index and its activity cell. */
  worker: Omit<SlotWorkerData, "slotIndex" | "activity">;
  /** The worker's heap limit in MB (0: Node's default). */
  heapLimitMb: number;
  cancellationTimeoutMs: number;
}

interface HostedTask {
  name: string;
  jobId: string;
  attempt: number;
  /** The leadership that deployed it. */
  fencingToken: string;
  number: number;
  terminal: boolean;
  cancelRequested: boolean;
}

/**
 * One worker thread of a slot: the tasks deployed to the slot, job after job (decision record 0006).
 * The main thread keeps what it needs to speak for them when the worker cannot: which tasks it hosts,
 * which one runs at any moment (`activity`), and its last metrics snapshot.
 */
export class SlotWorker {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  readonly tasks = new Map<string, HostedTask>();
  /** Bundles deployed to the worker (each stays imported while it lives). */
  readonly bundles = new Set<string>();
  snapshot: SlotSnapshot | undefined;
  /** Woken by the next snapshot. */
  readonly snapshotWaiters: Array<() => void> = [];
  /** Set once the worker is being discarded or has died: it takes no more deployments. */
  gone = false;
  /** Set once the worker said it is ready. */
  started = false;
  /** The port of the worker's data server (on the TaskManager's host), once it is ready. */
  dataPort = 0;
  private readonly tasksEnded: Array<() => void> = [];
  readonly activity = new Int32Array(new SharedArrayBuffer(4));
  private nextTaskNumber = 0;
  private readonly pending = new Map<number, { resolve(): void; reject(err: Error): void }>();
  private nextRequest = 0;

  constructor(
    readonly slotIndex: number,
    options: SlotOptions,
    onMessage: (w: SlotWorker, msg: FromWorker) => void,
  ) {
    this.activity[0] = -1;
    const data: SlotWorkerData = { ...options.worker, slotIndex, activity: this.activity.buffer as SharedArrayBuffer };
    this.worker = new Worker(WORKER_SCRIPT, {
      workerData: data,
      ...(options.heapLimitMb > 0 ? { resourceLimits: { maxOldGenerationSizeMb: options.heapLimitMb } } : {}),
    });
    this.ready = new Promise<void>((resolve, reject) => {
      const onExit = (code: number) =>
        reject(new RiffleError("TASK_DEPLOYMENT_FAILED", `the worker of slot ${slotIndex} exited with code ${code} while starting`));
      this.worker.once("exit", onExit);
      this.worker.once("message", (msg: FromWorker) => {
        this.worker.off("exit", onExit);
        if (msg.type === "ready") {
          this.started = true;
          this.dataPort = msg.dataPort;
          resolve();
        } else reject(new RiffleError("INTERNAL", `the worker of slot ${slotIndex} said ${msg.type} before it was ready`));
      });
    });
    this.ready.catch(() => {});
    this.worker.on("message", (msg: FromWorker) => {
      if (msg.type === "reply") {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) p?.reject(new RiffleError(msg.error.code as ErrorCode, msg.error.message));
        else p?.resolve();
        return;
      }
      onMessage(this, msg);
    });
  }

  post(msg: ToWorker, transfer?: MessagePort[]): void {
    this.worker.postMessage(msg, transfer);
  }

  request(make: (id: number) => ToWorker): Promise<void> {
    const id = this.nextRequest++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.post(make(id));
    });
  }

  /** Requests that will never be answered (the worker is gone) fail. */
  failPending(error: RiffleError): void {
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }

  addTask(tdd: TaskDeploymentDescriptor, name: string): HostedTask {
    const task: HostedTask = {
      name,
      jobId: tdd.jobId,
      attempt: tdd.attempt,
      fencingToken: tdd.fencingToken,
      number: this.nextTaskNumber++,
      terminal: false,
      cancelRequested: false,
    };
    this.tasks.set(tdd.executionId, task);
    return task;
  }

  liveTasks(): Array<[string, HostedTask]> {
    return [...this.tasks].filter(([, t]) => !t.terminal);
  }

  /** Marks a task ended; wakes `whenTasksEnded` once none is live. */
  endTask(task: HostedTask): void {
    task.terminal = true;
    if (this.liveTasks().length === 0) for (const wake of this.tasksEnded.splice(0)) wake();
  }

  /** Resolves once no task of the worker is live. */
  whenTasksEnded(): Promise<void> {
    if (this.liveTasks().length === 0) return Promise.resolve();
    return new Promise((resolve) => this.tasksEnded.push(resolve));
  }

  /** The task running in the worker right now, if any. */
  runningTask(): HostedTask | undefined {
    const n = Atomics.load(this.activity, 0);
    for (const t of this.tasks.values()) if (t.number === n) return t;
    return undefined;
  }
}

/**
 * A slot of the TaskManager, from the main thread: it keeps a worker thread and deploys the tasks the
 * JobManager gives the slot into it, job after job, as Flink's TaskManager runs them in one JVM: the
 * worker's compiled code stays warm and a deployment does not wait for a thread to start. A worker is
 * replaced by a fresh one when a cancelled task does not stop in time (it is terminated), when tasks
 * of another attempt still run in it as a new one is deployed, when it has imported
 * MAX_BUNDLES_PER_WORKER bundles and nothing runs, and when it dies: then it takes only its own tasks
 * with it, each failing with the cause (out of memory, `process.exit` in user code, an uncaught error).
 */
export class SlotHost {
  private current: SlotWorker;
  private closed = false;

  constructor(
    readonly index: number,
    private readonly options: SlotOptions,
    private readonly events: SlotEvents,
    private readonly log: Logger,
  ) {
    this.current = this.spawn();
  }

  /** The worker's last metrics snapshot. */
  get snapshot(): SlotSnapshot | undefined {
    return this.current.snapshot;
  }

  /**
   * Asks the worker for a snapshot now (a scrape of /metrics shows tasks deployed a moment ago) and
   * waits up to `timeoutMs` for it; a worker that does not answer in time (busy in user code) keeps
   * its last one.
   */
  async freshSnapshot(timeoutMs: number): Promise<void> {
    const w = this.current;
    if (w.gone || !w.started) return;
    let timer: NodeJS.Timeout | undefined;
    const next = new Promise<void>((resolve) => w.snapshotWaiters.push(resolve));
    w.post({ type: "snapshot-request" });
    await Promise.race([next, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** Resolves when the slot's worker has started (TaskManager start-up waits for it). */
  get ready(): Promise<void> {
    return this.current.ready;
  }

  /** Live tasks of the slot, by execution id. */
  hasTask(executionId: string): boolean {
    const t = this.current.tasks.get(executionId);
    return t !== undefined && !t.terminal;
  }

  private spawn(): SlotWorker {
    const started = performance.now();
    const w = new SlotWorker(this.index, this.options, (worker, msg) => this.onMessage(worker, msg));
    w.worker.on("error", (err: Error & { code?: string }) => this.onWorkerError(w, err));
    w.worker.on("exit", (code) => this.onWorkerExit(w, code));
    w.ready.then(
      () => {
        this.restartDelayMs = 50;
        this.log.info({ slot: this.index, startMs: Math.round(performance.now() - started) }, "slot worker ready");
      },
      () => {},
    );
    return w;
  }

  async deploy(tdd: TaskDeploymentDescriptor, taskName: string): Promise<void> {
    let w = this.current;
    // Tasks of another attempt still running here: the JobManager gave up waiting for them.
    const stale = w.liveTasks().filter(([, t]) => t.jobId !== tdd.jobId || t.attempt !== tdd.attempt);
    const full = w.liveTasks().length === 0 && !w.bundles.has(tdd.bundleHash) && w.bundles.size >= MAX_BUNDLES_PER_WORKER;
    if (w.gone || stale.length > 0 || full) {
      if (stale.length > 0) {
        this.log.warn(
          { slot: this.index, tasks: stale.map(([, t]) => t.name), jobId: tdd.jobId, attempt: tdd.attempt },
          "a new attempt is deployed into a slot whose tasks are still running: terminating them",
        );
      }
      w = this.replace(w, { code: "TASK_CANCELED", message: `slot ${this.index} was given to another job attempt` });
    }
    w.bundles.add(tdd.bundleHash);
    const task = w.addTask(tdd, taskName);
    this.events.partitionsDeployed(
      w,
      tdd.partitions.map((p) => p.partitionId),
    );
    try {
      await w.ready;
    } catch (err) {
      w.endTask(task);
      throw new RiffleError("TASK_DEPLOYMENT_FAILED", `slot ${this.index} could not start its worker: ${describeError(err)}`, { cause: err });
    }
    w.post({ type: "deploy", tdd, taskNumber: task.number });
  }

  /** Cancels a task of this slot; false when the slot does not host it. */
  cancel(jobId: string, executionId: string): boolean {
    const w = this.current;
    const task = w.tasks.get(executionId);
    if (!task || task.terminal) return false;
    task.cancelRequested = true;
    w.post({ type: "cancel", jobId, executionId });
    const timer = setTimeout(() => {
      if (task.terminal || w.gone) return;
      this.log.warn(
        { slot: this.index, task: task.name, timeoutMs: this.options.cancellationTimeoutMs },
        "a cancelled task did not stop within task.cancellation.timeout: terminating its slot's worker",
      );
      this.replace(w, {
        code: "TASK_NOT_STOPPED",
        message: `${task.name} did not stop within ${this.options.cancellationTimeoutMs} ms of its cancellation; its slot was terminated`,
      });
    }, this.options.cancellationTimeoutMs);
    timer.unref();
    return true;
  }

  /** The live tasks of the slot that were not asked to cancel yet (for the heartbeat reconciliation). */
  liveExecutions(): Array<{ executionId: string; jobId: string; fencingToken: string }> {
    return this.current
      .liveTasks()
      .filter(([, t]) => !t.cancelRequested)
      .map(([executionId, t]) => ({ executionId, jobId: t.jobId, fencingToken: t.fencingToken }));
  }

  /** Cancels every live task of the slot (the JobManager is gone). */
  cancelAll(): void {
    for (const [executionId, t] of this.current.liveTasks()) this.cancel(t.jobId, executionId);
  }

  /** Releases partitions a finished task of `jobId` left in this slot (its job is being cancelled). */
  releaseJob(jobId: string, executionId: string): void {
    if (!this.current.gone) this.current.post({ type: "cancel", jobId, executionId });
  }

  triggerCheckpoint(request: TriggerCheckpointRequest): Promise<void> {
    return this.current.request((id) => ({ type: "trigger-checkpoint", id, request }));
  }

  /** Hands a coordinator's event to the task's reader; resolves once it is in the task's mailbox. */
  deliverOperatorEvent(executionId: string, event: OperatorEvent): Promise<void> {
    return this.current.request((id) => ({ type: "operator-event", id, executionId, event }));
  }

  notifyCheckpoint(type: "checkpoint-complete" | "checkpoint-aborted", executionId: string, checkpointId: number): void {
    if (this.hasTask(executionId)) this.current.post({ type, executionId, checkpointId });
  }

  private onMessage(w: SlotWorker, msg: FromWorker): void {
    switch (msg.type) {
      case "task-state": {
        const task = w.tasks.get(msg.executionId);
        if (!task || task.terminal) return;
        if (msg.state === "FINISHED" || msg.state === "FAILED" || msg.state === "CANCELED") w.endTask(task);
        this.events.taskState(msg);
        return;
      }
      case "ack":
        this.events.acknowledge(msg.ack);
        return;
      case "decline":
        this.events.decline(msg.decline);
        return;
      case "collect":
        this.events
          .collect({
            jobId: msg.jobId,
            executionId: msg.executionId,
            subtaskIndex: msg.subtaskIndex,
            sequence: msg.sequence,
            records: Buffer.from(msg.records),
          })
          .then(
            () => w.post({ type: "reply", id: msg.id }),
            (err: Error & { code?: string }) => w.post({ type: "reply", id: msg.id, error: { code: err.code ?? "CONNECTION_LOST", message: err.message } }),
          );
        return;
      case "bundle":
        this.events.ensureBundle(msg.hash).then(
          () => w.post({ type: "reply", id: msg.id }),
          (err: Error & { code?: string }) => w.post({ type: "reply", id: msg.id, error: { code: err.code ?? "BUNDLE_NOT_FOUND", message: err.message } }),
        );
        return;
      case "open-channel":
        this.events.openChannel(msg.port, msg.channel, msg.consumer);
        return;
      case "operator-event":
        this.events.operatorEvent({ jobId: msg.jobId, executionId: msg.executionId, eventJson: JSON.stringify(msg.event), fencingToken: "" }).then(
          () => w.post({ type: "reply", id: msg.id }),
          (err: Error & { code?: string }) => w.post({ type: "reply", id: msg.id, error: { code: err.code ?? "CONNECTION_LOST", message: err.message } }),
        );
        return;
      case "snapshot":
        w.snapshot = msg.snapshot;
        for (const wake of w.snapshotWaiters.splice(0)) wake();
        return;
      case "ready":
      case "reply":
        return;
    }
  }

  /**
   * Terminates `w` and puts a fresh worker in its place. Tasks still live in `w` are reported: those
   * being cancelled as CANCELED, the others as FAILED with `cause`.
   */
  private replace(w: SlotWorker, cause: { code: ErrorCode; message: string } | undefined): SlotWorker {
    this.retire(w, cause);
    void w.worker.terminate();
    if (!this.closed && w === this.current) this.current = this.spawn();
    return this.current;
  }

  /** Marks `w` gone and reports its live tasks. */
  private retire(w: SlotWorker, cause: { code: ErrorCode; message: string } | undefined): void {
    if (w.gone) return;
    w.gone = true;
    w.failPending(new RiffleError("TASK_CANCELED", `the worker of slot ${this.index} is gone`));
    this.events.workerGone(w);
    for (const [executionId, t] of w.liveTasks()) {
      w.endTask(t);
      const failed = !t.cancelRequested && cause !== undefined;
      this.events.taskState({
        executionId,
        jobId: t.jobId,
        state: failed ? "FAILED" : "CANCELED",
        errorCode: failed ? cause.code : "TASK_CANCELED",
        errorMessage: failed ? cause.message : "cancelled",
        metrics: null,
      });
    }
  }

  private workerError: WeakMap<SlotWorker, Error & { code?: string }> = new WeakMap();

  private onWorkerError(w: SlotWorker, err: Error & { code?: string }): void {
    this.workerError.set(w, err);
  }

  /** A worker ended without being asked: its tasks fail with what ended it. */
  private onWorkerExit(w: SlotWorker, code: number): void {
    if (w.gone) return;
    const err = this.workerError.get(w);
    const task = w.runningTask();
    const where = task ? `in ${task.name}` : `in slot ${this.index}`;
    let cause: { code: ErrorCode; message: string };
    if (err?.code === "ERR_WORKER_OUT_OF_MEMORY") {
      cause = {
        code: "TASK_OUT_OF_MEMORY",
        message: `out of memory ${where}: the slot's JavaScript heap reached its limit of ${this.options.heapLimitMb} MB (taskmanager.memory.slot.heap-size)`,
      };
    } else if (err) {
      cause = { code: "TASK_FAILED", message: `uncaught error ${where}: ${describeError(err)}` };
    } else {
      cause = { code: "TASK_EXITED", message: `user code called process.exit(${code}) ${where}` };
    }
    this.log.error({ slot: this.index, exitCode: code, task: task?.name }, `the slot's worker died: ${cause.message}`);
    this.retire(w, cause);
    if (this.closed || w !== this.current) return;
    if (w.started) {
      this.current = this.spawn();
      return;
    }
    // A worker that dies before it is ready would die again at once: start the next one a little later.
    this.restartDelayMs = Math.min(5000, this.restartDelayMs * 2);
    setTimeout(() => {
      if (!this.closed && w === this.current) this.current = this.spawn();
    }, this.restartDelayMs).unref();
  }

  private restartDelayMs = 50;

  /** Stops the slot: cancels its tasks, waits a little for them, then terminates the worker. */
  async close(): Promise<void> {
    this.closed = true;
    const w = this.current;
    for (const [executionId, t] of w.liveTasks()) {
      t.cancelRequested = true;
      w.post({ type: "cancel", jobId: t.jobId, executionId });
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([w.whenTasksEnded(), new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
    this.retire(w, undefined);
    await w.worker.terminate();
  }
}
