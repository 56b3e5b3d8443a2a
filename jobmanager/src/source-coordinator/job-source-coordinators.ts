import {
  RiffleError,
  isErrorCode,
  toRiffleError,
  type CheckpointMetadata,
  type ErrorCode,
  type JobGraph,
  type Logger,
  type OperatorEventRequest,
  type Unfenced,
} from "@riffle/shared";
import type { OperatorEvent } from "@riffle/sdk/internal";
import { CoordinatorHost, type WorkerEvent } from "./coordinator-host.js";
import type { CoordinatedSource, ToCoordinatorWorker } from "./protocol.js";
import { SubtaskGateway } from "./subtask-gateway.js";

/** How the coordinators reach a task: the TaskManager's SendOperatorEvent. */
export interface OperatorEventGateway {
  sendOperatorEvent(address: string, request: Unfenced<OperatorEventRequest>): Promise<void>;
}

/** A subtask of the current attempt that sent an event. */
export interface ReaderExecution {
  executionId: string;
  vertexId: string;
  subtask: number;
  /** host:port of its TaskManager. */
  address: string;
}

export interface JobSourceCoordinatorsDeps {
  jobId: string;
  jobName: string;
  args: string[];
  /** The job bundle on the JobManager's disk. */
  bundlePath: string;
  gateway: OperatorEventGateway;
  logger: Logger;
  /** Fails the job (its restart strategy applies): an enumerator failed, or an event to a reader was lost. */
  failJob(failure: { code: ErrorCode; message: string }): void;
  /** Whether the execution has ended (an event it could not take then needs no failover). */
  executionEnded(executionId: string): boolean;
}

/** The checkpoint the job restores at a deployment, as the coordinators need it. */
export interface RestoredCoordinators {
  id: number;
  metadata: CheckpointMetadata;
}

/** One source vertex: its readers of the current attempt and the gateways to them. */
class SourceVertex {
  epoch = 0;
  readonly readers = new Map<number, { execution: ReaderExecution; gateway: SubtaskGateway }>();

  constructor(public source: CoordinatedSource) {}
}

/**
 * The source coordinators of one job (Flink's SourceCoordinators, one per source with an enumerator,
 * with their OperatorCoordinatorHolder): the enumerators run in a worker thread of the job
 * (coordinator-host.ts), this side routes events between them and the readers and takes part in
 * checkpoints (CoordinatorCheckpoints).
 *
 * At each deployment of the job:
 * - when the enumerators that run took (or started from) the checkpoint the job restores, at the same
 *   parallelism, they stay: each reader's splits since that checkpoint come back to its enumerator
 *   (`addSplitsBack`), as Flink does for a failed subtask;
 * - otherwise (the first deployment, a rescale, a savepoint, a worker that died, an enumerator that
 *   failed the job) they are created
 *   again from the states in the restored checkpoint (Flink's resetToCheckpoint), or fresh.
 */
export class JobSourceCoordinators {
  readonly active = true;
  private host: CoordinatorHost | undefined;
  private readonly vertices = new Map<string, SourceVertex>();
  /** The checkpoint the running enumerators were created from (undefined: fresh), and those they snapshotted. */
  private createdFrom: number | undefined;
  private readonly snapshotted = new Set<number>();
  /** Set from the coordinators' snapshot of checkpoint n until its trigger reached the tasks. */
  private closedFor: number | undefined;
  private nextEpoch = 1;
  private closed = false;
  /** An enumerator failed the job: the next deployment creates them all again (Flink resets a failed coordinator). */
  private failed = false;
  private readonly logger: Logger;

  constructor(private readonly deps: JobSourceCoordinatorsDeps) {
    this.logger = deps.logger.child({ subsystem: "source-coordinator" });
  }

  /** Whether a graph has sources with enumerators (only then does a job need coordinators). */
  static needed(graph: JobGraph): boolean {
    return graph.vertices.some((v) => v.operators[0]?.kind === "source" && v.operators[0].coordinated === true);
  }

  /** A deployment of `graph`, restoring `restored` (or nothing): see the class comment. Before the tasks are deployed. */
  deploy(graph: JobGraph, restored: RestoredCoordinators | undefined): void {
    if (this.closed) return;
    const sources: CoordinatedSource[] = graph.vertices
      .filter((v) => v.operators[0]?.kind === "source" && v.operators[0].coordinated === true)
      .map((v) => ({ vertexId: v.id, uid: v.operators[0]!.uid, name: v.name, fn: v.operators[0]!.fn, parallelism: v.parallelism }));
    this.disposeReaders();
    const same =
      this.host !== undefined &&
      sources.length === this.vertices.size &&
      sources.every((s) => this.vertices.get(s.vertexId)?.source.parallelism === s.parallelism && this.vertices.get(s.vertexId)?.source.uid === s.uid);
    const known = restored === undefined ? this.createdFrom === undefined : restored.id === this.createdFrom || this.snapshotted.has(restored.id);
    if (same && known && !this.failed) {
      for (const v of this.vertices.values()) {
        v.epoch = this.nextEpoch++;
        this.post({ type: "reset-readers", epoch: v.epoch, vertexId: v.source.vertexId, restoredCheckpointId: restored?.id });
      }
      this.logger.info(
        { restoredCheckpoint: restored?.id ?? null },
        "source coordinators keep running; the readers' splits since the restored checkpoint go back to them",
      );
      return;
    }
    const epoch = this.nextEpoch++;
    this.vertices.clear();
    for (const s of sources) {
      const state = restored?.metadata.operators.find((o) => o.uid === s.uid)?.coordinatorState;
      const source: CoordinatedSource = state !== undefined ? { ...s, restored: { state } } : s;
      const v = new SourceVertex(source);
      v.epoch = epoch;
      this.vertices.set(s.vertexId, v);
    }
    this.createdFrom = restored?.id;
    this.failed = false;
    this.snapshotted.clear();
    this.closedFor = undefined;
    this.host ??= this.createHost();
    this.post({
      type: "start",
      epoch,
      bundlePath: this.deps.bundlePath,
      args: this.deps.args,
      functionCount: graph.functionCount,
      jobId: this.deps.jobId,
      jobName: this.deps.jobName,
      sources: [...this.vertices.values()].map((v) => v.source),
    });
    this.logger.info(
      { sources: sources.map((s) => `${s.name} (${s.parallelism})`), restoredCheckpoint: restored?.id ?? null },
      `starting the split enumerators of job ${this.deps.jobName}${restored ? ` from checkpoint ${restored.id}` : ""}`,
    );
  }

  /** By vertex id: how many splits each source reported at the latest checkpoint (sources that know it). */
  splitCounts(): Readonly<Record<string, number>> {
    return this.host?.splitCounts ?? {};
  }

  /** The attempt's tasks are gone (a restart, the job stopping): nothing more goes to them. */
  attemptEnded(): void {
    this.disposeReaders();
    // Messages the enumerators sent for the readers that are gone are dropped from now on.
    for (const v of this.vertices.values()) v.epoch = this.nextEpoch++;
  }

  /** An event from a reader of the current attempt. */
  handleEventFromTask(execution: ReaderExecution, event: OperatorEvent): void {
    const v = this.vertices.get(execution.vertexId);
    if (!v) {
      this.logger.debug({ executionId: execution.executionId, type: event.type }, "ignoring an operator event of a vertex without a coordinator");
      return;
    }
    switch (event.type) {
      case "ReaderRegistration": {
        v.readers.get(execution.subtask)?.gateway.dispose();
        const gateway = new SubtaskGateway(
          (e) =>
            this.deps.gateway.sendOperatorEvent(execution.address, {
              jobId: this.deps.jobId,
              executionId: execution.executionId,
              eventJson: JSON.stringify(e),
            }),
          (e, err) => this.eventLost(execution, e, err),
        );
        if (this.closedFor !== undefined) gateway.close(this.closedFor);
        v.readers.set(execution.subtask, { execution, gateway });
        this.post({ type: "add-reader", epoch: v.epoch, vertexId: v.source.vertexId, subtask: execution.subtask });
        return;
      }
      case "RequestSplit":
        this.post({ type: "split-request", epoch: v.epoch, vertexId: v.source.vertexId, subtask: execution.subtask });
        return;
      case "SourceEvent":
        this.post({ type: "source-event", epoch: v.epoch, vertexId: v.source.vertexId, subtask: execution.subtask, event: event.event });
        return;
      default:
        this.logger.warn({ executionId: execution.executionId, type: event.type }, "ignoring an operator event a reader cannot send");
    }
  }

  /**
   * The enumerators' states for checkpoint n; resolves once the events they sent before the snapshot
   * reached the readers. From the snapshot on, events to readers are held back until
   * afterSourceBarrierInjection(n).
   */
  async checkpointCoordinators(checkpointId: number): Promise<Record<string, unknown>> {
    if (!this.host) throw new RiffleError("SOURCE_COORDINATOR_FAILED", "the source coordinators are not running");
    const states = await this.host.snapshot(checkpointId);
    await Promise.all([...this.vertices.values()].flatMap((v) => [...v.readers.values()].map((r) => r.gateway.whenDrained())));
    return states;
  }

  afterSourceBarrierInjection(checkpointId: number): void {
    if (this.closedFor === checkpointId) this.closedFor = undefined;
    for (const v of this.vertices.values()) for (const r of v.readers.values()) r.gateway.open(checkpointId);
  }

  notifyCheckpointComplete(checkpointId: number): void {
    this.post({ type: "checkpoint-complete", checkpointId });
  }

  /** The job ended or the JobManager stops: the enumerators close and their worker ends. */
  async close(): Promise<void> {
    this.closed = true;
    this.disposeReaders();
    const host = this.host;
    this.host = undefined;
    await host?.close();
  }

  private createHost(): CoordinatorHost {
    const host = new CoordinatorHost(
      {
        message: (msg) => this.fromWorker(msg),
        snapshotTaken: (checkpointId) => {
          if (this.host !== host) return;
          this.snapshotted.add(checkpointId);
          this.closedFor = checkpointId;
          for (const v of this.vertices.values()) for (const r of v.readers.values()) r.gateway.close(checkpointId);
        },
        crashed: (error) => {
          if (this.host !== host) return;
          // The next deployment starts a new worker and creates the enumerators from the checkpoint.
          this.host = undefined;
          this.deps.failJob({ code: error.code, message: error.message });
        },
      },
      this.logger,
    );
    return host;
  }

  private fromWorker(msg: WorkerEvent): void {
    if (msg.type === "failed") {
      const current =
        msg.vertexId === undefined
          ? msg.epoch === -1 || [...this.vertices.values()].some((v) => v.epoch === msg.epoch)
          : this.vertices.get(msg.vertexId)?.epoch === msg.epoch;
      if (!current) {
        this.logger.debug({ error: msg.error }, "ignoring a failure of enumerators that were replaced");
        return;
      }
      this.failed = true;
      this.deps.failJob({ code: isErrorCode(msg.error.code) ? msg.error.code : "SOURCE_COORDINATOR_FAILED", message: msg.error.message });
      return;
    }
    if (msg.type === "started") {
      this.logger.debug({ epoch: msg.epoch }, "split enumerators started");
      return;
    }
    const v = this.vertices.get(msg.vertexId);
    if (!v || v.epoch !== msg.epoch) return;
    const reader = v.readers.get(msg.subtask);
    if (!reader) {
      this.logger.warn({ vertexId: msg.vertexId, subtask: msg.subtask, type: msg.type }, "an enumerator addressed a reader that is not registered");
      return;
    }
    switch (msg.type) {
      case "assign":
        reader.gateway.send({ type: "AddSplits", splits: msg.splits });
        return;
      case "no-more-splits":
        reader.gateway.send({ type: "NoMoreSplits" });
        return;
      case "event":
        reader.gateway.send({ type: "SourceEvent", event: msg.event });
        return;
    }
  }

  /** An event did not reach its reader: unless the reader has ended, the job fails over (Flink does the same). */
  private eventLost(execution: ReaderExecution, event: OperatorEvent, err: unknown): void {
    if (this.deps.executionEnded(execution.executionId)) return;
    this.deps.failJob({
      code: "OPERATOR_EVENT_LOST",
      message: `a ${event.type} event of the split enumerator did not reach subtask ${execution.subtask} (${execution.address}): ${toRiffleError(err).message}; the job restarts to keep the splits consistent`,
    });
  }

  private disposeReaders(): void {
    for (const v of this.vertices.values()) {
      for (const r of v.readers.values()) r.gateway.dispose();
      v.readers.clear();
    }
  }

  private post(msg: ToCoordinatorWorker): void {
    this.host?.post(msg);
  }
}
