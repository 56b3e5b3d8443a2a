import {
  RiffleError,
  describeError,
  toRiffleError,
  type ChannelDeployment,
  type ExecutionState,
  type JobRuntimeConfig,
  type JobVertex,
  type Logger,
  type Partitioner,
  type TaskDeploymentDescriptor,
  type AcknowledgeCheckpointRequest,
  type DeclineCheckpointRequest,
  type TriggerCheckpointRequest,
  type ExchangeRequest,
  type ExchangeResponse,
} from "@riffle/shared";
import { MIN_WATERMARK, createOperatorChain, type OperatorChain, type OperatorEvent, type Output } from "@riffle/sdk/internal";
import type { MetricGroup, RuntimeContext, SinkServices } from "@riffle/sdk";
import {
  type CheckpointBarrier,
  type InputItem,
  InputGate,
  LocalInputChannel,
  type NetworkBufferPool,
  type OpenStream,
  type PartitionManager,
  RecordWriter,
  RemoteInputChannel,
  ResultPartition,
  timestampOf,
} from "../network/index.js";
import { BarrierAligner } from "../checkpoint/barrier-aligner.js";
import type { TaskStateManager } from "../checkpoint/task-state.js";
import { Mailbox } from "./mailbox.js";
import { TaskMetrics } from "./metrics.js";
import { MailboxProcessingTimeService } from "./processing-time-service.js";
import { StatusWatermarkValve } from "./watermark-valve.js";

export interface NetworkSettings {
  exclusiveBuffersPerChannel: number;
  floatingBuffersPerGate: number;
  maxBuffersPerSubpartition: number;
  partitionRequestTimeoutMs: number;
}

export interface TaskServices {
  taskmanagerId: string;
  /** The slot this task runs in: a producer in the same slot is read in place. */
  slotIndex: number;
  /** The slot's network memory. */
  pool: NetworkBufferPool;
  /** The slot's result partitions. */
  partitions: PartitionManager;
  /** A stream to a partition outside this slot (another slot or TaskManager), opened by the channel. */
  openChannel(channel: ChannelDeployment, consumer: string): OpenStream<ExchangeRequest, ExchangeResponse>;
  network: NetworkSettings;
  /** Loads the job bundle and runs it in run mode: the function table. */
  loadFunctions(tdd: TaskDeploymentDescriptor, config: JobRuntimeConfig, vertex: JobVertex): Promise<unknown[]>;
  sinkServices(tdd: TaskDeploymentDescriptor): SinkServices;
  metricGroup(tdd: TaskDeploymentDescriptor, taskName: string): MetricGroup;
  onStateChange(task: Task, state: ExecutionState, error?: RiffleError): void;
  /** The task's operator state: fresh, or restored from the checkpoint in the deployment. */
  createStateManager(tdd: TaskDeploymentDescriptor, config: JobRuntimeConfig, vertex: JobVertex): Promise<TaskStateManager>;
  acknowledgeCheckpoint(ack: AcknowledgeCheckpointRequest): Promise<void>;
  /** An event of the task's source reader to its coordinator (split enumerator) in the JobManager, in order. */
  sendOperatorEvent(tdd: TaskDeploymentDescriptor, event: OperatorEvent): void;
  declineCheckpoint(decline: DeclineCheckpointRequest): Promise<void>;
  /** The task runs now (after each wait): a slot that dies or hangs is attributed to it. */
  enter(task: Task): void;
  log: Logger;
}

/**
 * Records a source emits per mailbox step. A source whose records go to outputs that can refuse them
 * is polled for one record at a time and the outputs are checked before each: no step can overfill
 * them, whatever the size of a record.
 */
const SOURCE_BATCH = 512;
/**
 * Longest the loop runs before it yields to the event loop. Credits, buffers and heartbeats of every
 * task in the process move only when it yields, so this bounds their delay (a yield costs µs).
 */
const SLICE_MS = 2;
/**
 * Records between two looks at the clock inside a batch or a source step: tasks that share a slot
 * share its thread, so a slow operator must leave it to the others about every SLICE_MS, not after a
 * whole batch.
 */
const CLOCK_EVERY = 16;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * One subtask of a vertex: its operator chain, input gates and record writers, driven by a mailbox
 * loop. The loop processes the next record only when every output has room, so back-pressure stops
 * the task instead of growing memory, and it never awaits per record.
 *
 *   DEPLOYING ──► RUNNING ──► FINISHED
 *       │            ├──────► FAILED
 *       └────────────┴──────► CANCELED
 *
 * Checkpoints: a source task snapshots when the trigger reaches its mailbox, between two reads of
 * its source; other tasks when barrier n arrived on every input channel (aligned). Either way the
 * synchronous part captures the state, the barrier goes out on every output, and the state is
 * written and acknowledged while processing goes on. A source that reaches the end of its input with
 * checkpointing on waits for one more completed checkpoint before it ends its partitions, so every
 * record is covered by a checkpoint before sinks see the end (Flink's final checkpoint, FLIP-147).
 *
 * Event time: records carry their timestamps in their batches; watermark and watermark-status events
 * of every input channel go through one StatusWatermarkValve, which tells the head operator when the
 * task's input watermark advances (the minimum over active channels) or all inputs went idle. A source
 * task that reaches the end of its input sends MAX_WATERMARK down the chain. Processing-time timers
 * run as mail.
 */
export class Task {
  readonly vertex: JobVertex;
  readonly config: JobRuntimeConfig;
  readonly metrics = new TaskMetrics();
  readonly mailbox = new Mailbox();
  readonly processingTime = new MailboxProcessingTimeService(this.mailbox);
  private state: ExecutionState = "DEPLOYING";
  private chain: OperatorChain | undefined;
  private readonly writers: RecordWriter[] = [];
  private readonly partitionIds: string[] = [];
  private readonly gates: InputGate[] = [];
  private cancelled = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private batch: unknown[] | undefined;
  /** The current batch's timestamps (NaN: none), or undefined when no record of it has one. */
  private batchTimestamps: ArrayLike<number> | undefined;
  /** The current batch feeds the head's second input. */
  private batchInput2 = false;
  private batchIndex = 0;
  /** Per gate (in this.gates order): whether it feeds the head's second input (vertex.inputTypes). */
  private gateIsInput2: boolean[] = [];
  /** Per gate: the valve index of its channel 0 (channels of all gates are numbered in one row). */
  private channelOffsets: number[] = [];
  private valve: StatusWatermarkValve | undefined;
  private nextGate = 0;
  /** False when no output of this task can ever refuse a record: the per-record check is skipped. */
  private outputsCanBlock = true;
  private stepStart = 0;
  /** When the current slice of the loop began (it yields once SLICE_MS have passed). */
  private sliceStart = 0;
  private stateManager: TaskStateManager | undefined;
  private aligner: BarrierAligner | undefined;
  /** Set when an input channel's end completed an alignment, handled after the current poll. */
  private alignedByEnd: { barrier: CheckpointBarrier; alignmentMs: number } | undefined;
  /** The source reached its end and the end of event time went into the chain. */
  private sourceDrained = false;
  private sourceEnded = false;
  private finalCheckpointId: number | undefined;
  private finalCheckpointDone = false;
  /** A barrier whose pre-barrier work (a sink's flush and pre-commit) is under way; see checkpoint(). */
  private preBarrier: PreBarrier | undefined;
  /** Barriers that came while one waited for its pre-barrier work, in order. */
  private readonly barriersAfterPreBarrier: { barrier: CheckpointBarrier; alignmentMs: number }[] = [];
  private readonly log: Logger;
  readonly done: Promise<void>;

  constructor(
    readonly tdd: TaskDeploymentDescriptor,
    private readonly services: TaskServices,
  ) {
    this.vertex = JSON.parse(tdd.vertexJson) as JobVertex;
    this.config = JSON.parse(tdd.jobConfigJson) as JobRuntimeConfig;
    this.log = services.log.child({ jobId: tdd.jobId, executionId: tdd.executionId, task: this.name });
    this.done = this.run();
  }

  get name(): string {
    return `${this.vertex.name} (${this.tdd.subtaskIndex + 1}/${this.tdd.parallelism})`;
  }

  get executionState(): ExecutionState {
    return this.state;
  }

  get recordsOut(): number {
    let n = 0;
    for (const w of this.writers) n += w.recordsOut;
    return n;
  }

  /** Records the task's source emitted into its chain, networked or not (0 for other tasks). */
  get sourceRecordsOut(): number {
    return this.chain?.source?.recordsOut ?? 0;
  }

  get bytesOut(): number {
    let n = 0;
    for (const w of this.writers) n += w.bytesOut;
    return n;
  }

  /** Event time the inputs reached: the minimum over active input channels (MIN_WATERMARK for sources). */
  get currentInputWatermark(): number {
    return this.valve?.currentWatermark ?? MIN_WATERMARK;
  }

  /**
   * The last watermark the task's last operators emitted (Flink's currentOutputWatermark): the lowest
   * over its network outputs and the operators that end its chain, such as a sink. MIN_WATERMARK before
   * any.
   */
  get currentOutputWatermark(): number {
    let min = this.chain?.endWatermark ?? Number.POSITIVE_INFINITY;
    for (const w of this.writers) min = Math.min(min, w.currentOutputWatermark);
    return min === Number.POSITIVE_INFINITY ? MIN_WATERMARK : min;
  }

  /** Late records the task's operators dropped (windows and interval joins without a late-data output). */
  get numLateRecordsDropped(): number {
    let n = 0;
    for (const op of this.chain?.operators ?? []) n += op.numLateRecordsDropped;
    return n;
  }

  /** Fraction (0..1) of the segments this task's outputs may hold that they hold: the fullest output. */
  outPoolUsage(): number {
    let max = 0;
    for (const w of this.writers) max = Math.max(max, w.usage());
    return max;
  }

  /** Bytes of the task's output frames waiting for segments. */
  spilledBytes(): number {
    let n = 0;
    for (const w of this.writers) n += w.spilledBytes();
    return n;
  }

  /** Records the task's source has not read yet where it knows them (Flink's pendingRecords); -1 otherwise. */
  pendingRecords(): number {
    const n = this.chain?.source?.reader.pendingRecords?.();
    return n === undefined || !Number.isFinite(n) || n < 0 ? -1 : Math.floor(n);
  }

  /** Fraction (0..1) of the buffers this task's input channels may hold that they hold: the fullest gate. */
  inPoolUsage(): number {
    let max = 0;
    for (const g of this.gates) max = Math.max(max, g.usage());
    return max;
  }

  /** Buffers received and not yet read by this task. */
  inputQueueLength(): number {
    let n = 0;
    for (const g of this.gates) n += g.queuedBuffers();
    return n;
  }

  /** Bytes of record frames read from this task's input channels. */
  get bytesIn(): number {
    return this.metrics.bytesIn;
  }

  /** A source task takes checkpoint n: snapshot and barrier, between two reads of its source. */
  triggerCheckpoint(req: TriggerCheckpointRequest): void {
    if (!this.chain?.source || this.state !== "RUNNING") {
      // A failed trigger (not a declined checkpoint): the JobManager does not count it against the job.
      throw new RiffleError("TASK_NOT_RUNNING", `${this.name} is not a running source task`);
    }
    this.mailbox.put(() => {
      if (this.state !== "RUNNING" || this.cancelled) {
        this.log.debug({ checkpointId: req.checkpointId }, "ignoring a trigger that arrived while the task was ending");
        return;
      }
      const barrier: CheckpointBarrier = {
        type: "CHECKPOINT_BARRIER",
        checkpointId: req.checkpointId,
        timestamp: req.timestamp,
        targetDir: req.targetDir,
        isSavepoint: req.isSavepoint,
      };
      this.checkpoint(barrier, 0);
    });
  }

  /** An event of the source's coordinator, handled in the mailbox in the order events and checkpoint triggers came. */
  deliverOperatorEvent(event: OperatorEvent): void {
    this.mailbox.put(() => this.chain!.handleOperatorEvent(event));
  }

  notifyCheckpointComplete(checkpointId: number): void {
    this.mailbox.put(() => {
      if (this.finalCheckpointId !== undefined && checkpointId >= this.finalCheckpointId) this.finalCheckpointDone = true;
      this.chain?.notifyCheckpointComplete(checkpointId).catch((err: unknown) => this.failFromOutside(err));
    });
  }

  notifyCheckpointAborted(checkpointId: number): void {
    this.mailbox.put(() => {
      this.aligner?.abort(checkpointId);
      this.chain?.notifyCheckpointAborted(checkpointId).catch((err: unknown) => this.failFromOutside(err));
    });
  }

  /** An error outside the loop (an async checkpoint hook, an event that did not reach the JobManager) fails the task through its mailbox. */
  failFromOutside(err: unknown): void {
    this.mailbox.put(() => {
      throw err;
    });
  }

  /**
   * Checkpoint n at this task. First the operators' pre-barrier work (Flink's prepareSnapshotPreBarrier:
   * a sink's flush and pre-commit). Usually synchronous; when it is not, the task takes no input until
   * it is done (the loop awaits it first thing, see finishPreBarrier), so the snapshot holds what the
   * sink staged and nothing written after the barrier is in it. Then the snapshot (see
   * snapshotAndForward). A failure declines the checkpoint and leaves the task running.
   */
  private checkpoint(barrier: CheckpointBarrier, alignmentMs: number): void {
    if (this.preBarrier) {
      this.barriersAfterPreBarrier.push({ barrier, alignmentMs });
      return;
    }
    let work: Promise<void> | undefined;
    try {
      work = this.chain!.prepareSnapshotPreBarrier(barrier.checkpointId);
    } catch (err) {
      this.decline(barrier.checkpointId, err);
      return;
    }
    if (!work) {
      this.snapshotAndForward(barrier, alignmentMs);
      return;
    }
    const pending: PreBarrier = { barrier, alignmentMs, settled: undefined as unknown as Promise<void>, done: false, error: undefined };
    pending.settled = work.then(
      () => {
        pending.done = true;
      },
      (err: unknown) => {
        pending.done = true;
        pending.error = err ?? new Error("the pre-barrier work failed");
      },
    );
    this.preBarrier = pending;
  }

  /** Waits (booked busy: the task's own work) for the pre-barrier work, then snapshots or declines. */
  private async finishPreBarrier(): Promise<void> {
    const p = this.preBarrier!;
    while (!p.done) {
      await this.wait(p.settled, "busy");
      if (this.mailbox.hasMail()) this.mailbox.runAll();
      if (this.cancelled) return;
    }
    this.preBarrier = undefined;
    if (p.error !== undefined) this.decline(p.barrier.checkpointId, p.error);
    else this.snapshotAndForward(p.barrier, p.alignmentMs);
    const next = this.barriersAfterPreBarrier.shift();
    if (next) this.checkpoint(next.barrier, next.alignmentMs);
  }

  /**
   * The synchronous part of checkpoint n, then the barrier downstream; the state is written and
   * acknowledged asynchronously. A failure declines the checkpoint (the JobManager aborts it) and
   * leaves the task running.
   */
  private snapshotAndForward(barrier: CheckpointBarrier, alignmentMs: number): void {
    const id = barrier.checkpointId;
    const t0 = performance.now();
    let capture: ReturnType<TaskStateManager["capture"]>;
    try {
      this.chain!.snapshotState(id);
      capture = this.stateManager!.capture(id);
    } catch (err) {
      this.decline(id, err);
      return;
    }
    for (const w of this.writers) w.broadcastBarrier(barrier);
    if (this.sourceEnded && this.finalCheckpointId === undefined) this.finalCheckpointId = id;
    const syncMs = performance.now() - t0;
    const t1 = performance.now();
    capture.write(barrier.targetDir).then(
      ({ snapshot, size }) =>
        this.services
          .acknowledgeCheckpoint({
            jobId: this.tdd.jobId,
            executionId: this.tdd.executionId,
            checkpointId: id,
            stateJson: JSON.stringify(snapshot),
            stateSize: size,
            syncDurationMs: Math.round(syncMs),
            asyncDurationMs: Math.round(performance.now() - t1),
            alignmentDurationMs: Math.round(alignmentMs),
          })
          .catch((err: unknown) => this.log.warn({ checkpointId: id, err: describeError(err) }, "could not acknowledge the checkpoint")),
      (err: unknown) => this.decline(id, err),
    );
  }

  private decline(checkpointId: number, err: unknown): void {
    const e = toRiffleError(err);
    this.log.warn({ checkpointId, code: e.code }, `declining checkpoint: ${e.message}`);
    this.services
      .declineCheckpoint({ jobId: this.tdd.jobId, executionId: this.tdd.executionId, checkpointId, errorCode: e.code, errorMessage: e.message })
      .catch((e2: unknown) => this.log.warn({ checkpointId, err: describeError(e2) }, "could not decline the checkpoint"));
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.mailbox.put(() => {});
    for (const g of this.gates) g.close();
  }

  private transition(state: ExecutionState, error?: RiffleError): void {
    this.state = state;
    if (state === "FAILED") this.log.error({ code: error?.code }, `task failed: ${error?.message}`);
    else this.log.info(`task ${state}`);
    this.services.onStateChange(this, state, error);
  }

  private async run(): Promise<void> {
    try {
      this.services.enter(this);
      await this.setup();
      this.services.enter(this);
      if (this.cancelled) throw new RiffleError("TASK_CANCELED", "cancelled during deployment");
      await this.chain!.open();
      this.services.enter(this);
      if (this.cancelled) throw new RiffleError("TASK_CANCELED", "cancelled while opening");
      this.outputsCanBlock = this.writers.length > 0 || this.chain!.canBlock();
      this.transition("RUNNING");
      this.startFlusher();
      await this.loop();
      if (this.cancelled) throw new RiffleError("TASK_CANCELED", "cancelled");
      await this.untilCancelled(this.chain!.endInput());
      this.processingTime.shutdown();
      for (const w of this.writers) {
        // The last buffers may wait for room like any other: a cancel must still get through.
        while (!w.finishIfFlushed()) {
          await this.wait(w.available(), "backPressured");
          if (this.cancelled) throw new RiffleError("TASK_CANCELED", "cancelled");
        }
      }
      this.stopFlusher();
      await this.chain!.close();
      this.closeGates();
      await this.stateManager?.dispose();
      this.transition("FINISHED");
    } catch (err) {
      this.stopFlusher();
      this.processingTime.shutdown();
      const error = this.cancelled ? new RiffleError("TASK_CANCELED", "cancelled") : failureOf(err);
      await this.cleanUp(error);
      if (this.cancelled) this.transition("CANCELED");
      else this.transition("FAILED", error);
    }
  }

  private async setup(): Promise<void> {
    const { tdd, services } = this;
    const functions = await services.loadFunctions(tdd, this.config, this.vertex);
    const net = services.network;
    const outputs = new Map<string, Output>();
    for (const p of tdd.partitions) {
      const partition = new ResultPartition(p.partitionId, p.numSubpartitions, services.pool, (rp) => services.partitions.release(rp.id));
      const keySelector = p.keySelector >= 0 ? (functions[p.keySelector] as (r: unknown) => unknown) : undefined;
      const edgeId = this.vertex.outputs[p.edgeIndex]!;
      const writer = new RecordWriter(partition, {
        partitioner: p.partitioner as Partitioner,
        keySelector,
        maxParallelism: p.maxParallelism,
        maxBuffersPerSubpartition: net.maxBuffersPerSubpartition,
        subtaskIndex: tdd.subtaskIndex,
        producer: `${producerOf(this.vertex, edgeId)} in ${this.name}`,
      });
      services.partitions.register(partition, tdd.jobId);
      this.partitionIds.push(p.partitionId);
      this.writers.push(writer);
      outputs.set(edgeId, writer);
    }

    const ctx: RuntimeContext = {
      jobId: tdd.jobId,
      jobName: tdd.jobName,
      taskName: this.vertex.name,
      subtaskIndex: tdd.subtaskIndex,
      parallelism: tdd.parallelism,
      maxParallelism: tdd.maxParallelism,
      metrics: services.metricGroup(tdd, this.vertex.name),
      log: this.log,
      args: this.config.args,
      // Writers name their files by it (the exactly-once file sink): a restarted subtask must not
      // reuse, and so overwrite or delete, a file an earlier attempt staged.
      attempt: tdd.attempt,
    };
    const runtime = {
      ctx,
      sendOperatorEvent: (event: OperatorEvent) => services.sendOperatorEvent(tdd, event),
      services: services.sinkServices(tdd),
      processingTime: this.processingTime,
      autoWatermarkIntervalMs: this.config.autoWatermarkIntervalMs ?? 200,
    };
    this.chain = createOperatorChain(this.vertex, functions, runtime, (edgeId) => {
      const out = outputs.get(edgeId);
      if (!out) throw new RiffleError("INTERNAL", `no result partition deployed for edge ${edgeId}`);
      return out;
    });
    const stateManager = await services.createStateManager(tdd, this.config, this.vertex);
    this.stateManager = stateManager;
    await this.chain.initializeState((op) => stateManager.stateFor(op));

    for (const g of tdd.inputGates) {
      const gate = new InputGate(g.gateIndex, services.pool, net.floatingBuffersPerGate);
      this.gates.push(gate);
      g.channels.forEach((c, i) => {
        const description = `partition ${c.partitionId}[${c.subpartition}] of TaskManager ${c.taskmanagerId} (${c.address}), slot ${c.slotIndex}`;
        if (c.taskmanagerId === services.taskmanagerId && c.slotIndex === services.slotIndex) {
          const channel = new LocalInputChannel(i, description, gate);
          gate.addChannel(channel);
          void channel.connect(services.partitions, c.partitionId, c.subpartition, net.partitionRequestTimeoutMs);
        } else {
          services.pool.requestExclusive(net.exclusiveBuffersPerChannel, `input channel ${i} of ${this.name}`);
          const channel = new RemoteInputChannel(i, description, gate, gate, net.exclusiveBuffersPerChannel, (n) => services.pool.recycle(n));
          gate.addChannel(channel);
          const consumer = `${tdd.executionId}@${services.taskmanagerId}`;
          channel.open(services.openChannel(c, consumer), c.partitionId, c.subpartition, consumer);
        }
      });
    }
    if (this.gates.length > 0) {
      const aligner = new BarrierAligner(this.gates);
      this.aligner = aligner;
      let channels = 0;
      this.channelOffsets = this.gates.map((g) => {
        const offset = channels;
        channels += g.channels.length;
        return offset;
      });
      this.gateIsInput2 = tdd.inputGates.map((g) => this.vertex.inputTypes?.[g.gateIndex] === 2);
      const valve = new StatusWatermarkValve(channels, this.chain.head);
      this.valve = valve;
      this.gates.forEach((gate, g) => {
        gate.onChannelEnded = (channel) => {
          valve.channelEnded(this.channelOffsets[g]! + channel);
          const r = aligner.onChannelEnded();
          if (r.aligned) this.alignedByEnd = { barrier: r.barrier, alignmentMs: r.alignmentMs };
        };
      });
    }
  }

  private startFlusher(): void {
    const timeout = this.config.bufferTimeoutMs;
    if (timeout <= 0 || this.writers.length === 0) return;
    this.flushTimer = setInterval(() => this.mailbox.put(() => this.flushWriters()), timeout);
  }

  private stopFlusher(): void {
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = undefined;
  }

  private flushWriters(): void {
    for (let i = 0; i < this.writers.length; i++) this.writers[i]!.flush();
  }

  private writersAvailable(): boolean {
    const ws = this.writers;
    for (let i = 0; i < ws.length; i++) if (!ws[i]!.isAvailable()) return false;
    return true;
  }

  private outputsAvailable(): boolean {
    return this.writersAvailable() && this.chain!.isAvailable();
  }

  private writersAvailableFuture(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const w of this.writers) if (!w.isAvailable()) waits.push(w.available());
    return waits.length === 0 ? Promise.resolve() : Promise.race(waits);
  }

  /** Awaits `what`, but gives up as soon as the task is cancelled. */
  private async untilCancelled(what: Promise<void>): Promise<void> {
    for (;;) {
      const done = await Promise.race([what.then(() => true), this.mailbox.arrival().then(() => false)]);
      this.services.enter(this);
      if (done) return;
      if (this.mailbox.hasMail()) this.mailbox.runAll();
      if (this.cancelled) throw new RiffleError("TASK_CANCELED", "cancelled");
    }
  }

  /**
   * Waits for `what` or for mail, and books the time: idle (no input), back-pressured (no output
   * segment or queue room), or busy (a sink writer finishing its own work: the task's own slowness).
   */
  private async wait(what: Promise<void>, kind: "idle" | "backPressured" | "busy"): Promise<void> {
    const t0 = performance.now();
    this.metrics.busyMs += t0 - this.stepStart;
    await Promise.race([what, this.mailbox.arrival()]);
    this.services.enter(this);
    const t1 = performance.now();
    if (kind === "idle") this.metrics.idleMs += t1 - t0;
    else if (kind === "backPressured") this.metrics.backPressuredMs += t1 - t0;
    else this.metrics.busyMs += t1 - t0;
    this.stepStart = t1;
  }

  /**
   * Up to SOURCE_BATCH records from the source: one per pollNext while the outputs have room when they
   * can refuse records, else all in one call.
   */
  private pollSource(source: NonNullable<OperatorChain["source"]>): ReturnType<typeof source.reader.pollNext> {
    if (!this.outputsCanBlock) return source.reader.pollNext(source.output, SOURCE_BATCH);
    let result: ReturnType<typeof source.reader.pollNext> = "MORE_AVAILABLE";
    for (let i = 1; i <= SOURCE_BATCH; i++) {
      result = source.reader.pollNext(source.output, 1);
      if (result !== "MORE_AVAILABLE" || !this.outputsAvailable()) break;
      if (i % CLOCK_EVERY === 0 && this.sliceUsed()) break;
    }
    return result;
  }

  private async loop(): Promise<void> {
    const source = this.chain!.source;
    const flushEachStep = this.config.bufferTimeoutMs <= 0;
    this.stepStart = performance.now();
    this.sliceStart = this.stepStart;
    for (;;) {
      if (this.mailbox.hasMail()) this.mailbox.runAll();
      if (this.cancelled) return;
      if (this.preBarrier) {
        await this.finishPreBarrier();
        continue;
      }
      if (!this.writersAvailable()) {
        await this.wait(this.writersAvailableFuture(), "backPressured");
        continue;
      }
      if (!this.chain!.isAvailable()) {
        await this.wait(this.chain!.available(), "busy");
        continue;
      }
      if (this.chain!.hasPendingWork()) {
        // Timers a watermark fired and could not finish in one step: before any more input.
        this.chain!.continueWork();
      } else if (this.batch) {
        this.processBatch();
      } else if (source) {
        if (this.sourceEnded) {
          // Only the final checkpoint is awaited: it arrives as mail.
          if (this.finalCheckpointDone) break;
          await this.wait(this.mailbox.arrival(), "idle");
          continue;
        }
        if (this.sourceDrained) {
          // The end of event time has been handled by the whole chain: the final checkpoint, taken
          // from here on, covers every record the chain will ever emit.
          if (!this.config.checkpointing) break;
          this.sourceEnded = true;
          this.flushWriters();
          continue;
        }
        const result = this.pollSource(source);
        if (result === "END_OF_INPUT") {
          // The end of event time: every event-time window and timer in the chain and downstream fires.
          this.chain!.finishSource();
          this.sourceDrained = true;
          continue;
        }
        if (result === "NOTHING_AVAILABLE") {
          if (flushEachStep) this.flushWriters();
          await this.wait(source.reader.isAvailable(), "idle");
          continue;
        }
      } else {
        const polled = this.pollInput();
        if (this.alignedByEnd) {
          const { barrier, alignmentMs } = this.alignedByEnd;
          this.alignedByEnd = undefined;
          this.checkpoint(barrier, alignmentMs);
        }
        const item = polled?.buffer;
        if (polled && item?.type === "CHECKPOINT_BARRIER") {
          const r = this.aligner!.onBarrier(polled.gate, polled.channel, item);
          if (r.aligned) this.checkpoint(r.barrier, r.alignmentMs);
          continue;
        }
        if (item === undefined) {
          if (this.gates.every((g) => g.isFinished())) break;
          if (flushEachStep) this.flushWriters();
          await this.wait(Promise.race(this.gates.map((g) => g.available())), "idle");
          continue;
        }
        if (item.type === "DATA") {
          this.metrics.bytesIn += item.bytes;
          if (item.records.length === 0) continue;
          this.batch = item.records;
          this.batchTimestamps = item.timestamps;
          this.batchInput2 = this.gateIsInput2[polled!.gate] === true;
          this.batchIndex = 0;
          this.processBatch();
        } else if (item.type === "WATERMARK") {
          this.valve!.inputWatermark(this.channelOffsets[polled!.gate]! + polled!.channel, item.timestamp);
        } else if (item.type === "WATERMARK_STATUS") {
          this.valve!.inputWatermarkStatus(this.channelOffsets[polled!.gate]! + polled!.channel, item.idle);
        }
      }
      if (flushEachStep) this.flushWriters();
      const now = performance.now();
      if (now - this.sliceStart > SLICE_MS) {
        this.metrics.busyMs += now - this.stepStart;
        await yieldToEventLoop();
        this.services.enter(this);
        this.stepStart = this.sliceStart = performance.now();
      }
    }
    // A barrier that completed alignment with the end of the last input may still wait for its sink.
    while (this.preBarrier && !this.cancelled) await this.finishPreBarrier();
    this.metrics.busyMs += performance.now() - this.stepStart;
  }

  /** Round-robin over the gates (a union of several inputs). */
  private pollInput(): { gate: number; channel: number; buffer: InputItem } | undefined {
    const n = this.gates.length;
    for (let k = 0; k < n; k++) {
      const g = (this.nextGate + k) % n;
      const item = this.gates[g]!.pollNext();
      if (item) {
        this.nextGate = (g + 1) % n;
        return { gate: g, channel: item.channel, buffer: item.buffer };
      }
    }
    return undefined;
  }

  /**
   * Feeds the current batch record by record while the outputs have room. The common case (first
   * input, no timestamps) keeps its own loop, so event time costs it nothing.
   */
  private processBatch(): void {
    const records = this.batch!;
    const head = this.chain!.head;
    const start = this.batchIndex;
    let i = start;
    const n = records.length;
    const ts = this.batchTimestamps;
    let clock = CLOCK_EVERY;
    if (ts === undefined && !this.batchInput2) {
      if (this.outputsCanBlock) {
        while (i < n) {
          head.processElement(records[i++], undefined);
          if (!this.outputsAvailable()) break;
          if (--clock === 0) {
            if (this.sliceUsed()) break;
            clock = CLOCK_EVERY;
          }
        }
      } else {
        while (i < n) {
          head.processElement(records[i++], undefined);
          if (--clock === 0) {
            if (this.sliceUsed()) break;
            clock = CLOCK_EVERY;
          }
        }
      }
    } else {
      const input2 = this.batchInput2;
      const canBlock = this.outputsCanBlock;
      while (i < n) {
        const t = ts === undefined ? undefined : timestampOf(ts[i]!);
        if (input2) head.processElement2(records[i++], t);
        else head.processElement(records[i++], t);
        if (canBlock && !this.outputsAvailable()) break;
        if (--clock === 0) {
          if (this.sliceUsed()) break;
          clock = CLOCK_EVERY;
        }
      }
    }
    this.metrics.recordsIn += i - start;
    if (i >= n) {
      this.batch = undefined;
      this.batchTimestamps = undefined;
    } else {
      this.batchIndex = i;
    }
  }

  /** The loop's slice is over: it should yield to the other tasks of the slot. */
  private sliceUsed(): boolean {
    return performance.now() - this.sliceStart > SLICE_MS;
  }

  private closeGates(): void {
    if (this.log.isLevelEnabled("debug")) {
      // Where the task's time went (RIFFLE_DEBUG=taskmanager; bench/dev/keyed-shuffle-threads.ts prints it).
      const m = this.metrics;
      this.log.debug({ busyMs: Math.round(m.busyMs), idleMs: Math.round(m.idleMs), backPressuredMs: Math.round(m.backPressuredMs) }, "task times");
      // What the credit protocol did, per channel from outside the slot (RIFFLE_DEBUG=taskmanager).
      for (const g of this.gates)
        for (const c of g.channels)
          if (c instanceof RemoteInputChannel)
            this.log.debug(
              { channel: c.description, buffers: c.buffersReceived, messages: c.messagesReceived, credits: c.creditsAnnounced, bytes: c.bytesReceived },
              "input channel closed",
            );
    }
    for (const g of this.gates) g.close();
  }

  private async cleanUp(error: RiffleError): Promise<void> {
    this.closeGates();
    for (const id of this.partitionIds) this.services.partitions.release(id, error);
    try {
      await this.chain?.close();
    } catch (err) {
      this.log.warn({ err: describeError(err) }, "closing the operators failed");
    }
    try {
      await this.stateManager?.dispose();
    } catch (err) {
      this.log.warn({ err: describeError(err) }, "disposing the task's state failed");
    }
  }
}

/** A checkpoint waiting for its pre-barrier work. */
interface PreBarrier {
  barrier: CheckpointBarrier;
  alignmentMs: number;
  /** Settles (never rejects) when the work is done. */
  settled: Promise<void>;
  done: boolean;
  error: unknown;
}

/** The operator of `vertex` whose records leave on `edgeId`, by name. */
function producerOf(vertex: JobVertex, edgeId: string): string {
  for (const op of vertex.operators) {
    if (op.networkOutputs.includes(edgeId) || op.sideOutputs?.some((s) => s.networkOutputs.includes(edgeId))) return `operator "${op.name}"`;
  }
  return `vertex "${vertex.name}"`;
}

function failureOf(err: unknown): RiffleError {
  if (err instanceof RiffleError) return err;
  const e = toRiffleError(err, "TASK_FAILED");
  const stack = err instanceof Error && err.stack ? err.stack.split("\n").slice(1, 4).join("\n") : "";
  return new RiffleError(e.code, stack ? `${e.message}\n${stack}` : e.message, { cause: err });
}
