import { RiffleError, describeError, toRiffleError } from "@riffle/shared";
import type { Source, SourceSplit, SplitEnumerator, SplitEnumeratorContext } from "@riffle/sdk";
import type { CoordinatedSource, FromCoordinatorWorker, StartRequest, ToCoordinatorWorker } from "./protocol.js";
import { SplitAssignmentTracker } from "./split-assignment-tracker.js";

/** Loads the job bundle and runs it in run mode: the function table (a test passes its own). */
export type FunctionLoader = (request: StartRequest) => Promise<readonly unknown[]>;

/**
 * The split enumerators of one job, inside its coordinator worker (Flink's SourceCoordinator and its
 * context, one per source). Messages are handled one at a time, in the order they came, so every
 * enumerator call is ordered with the snapshots: an assignment is either before a snapshot (in it, and
 * in the reader's state of the same checkpoint) or after it.
 */
export class EnumeratorRuntime {
  private readonly contexts = new Map<string, EnumeratorContext>();
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly post: (msg: FromCoordinatorWorker) => void,
    private readonly load: FunctionLoader,
  ) {}

  handle(msg: ToCoordinatorWorker): void {
    this.queue = this.queue.then(() => this.process(msg)).catch((err: unknown) => this.fail(undefined, undefined, err));
  }

  /** Resolves once every message so far was handled (tests). */
  idle(): Promise<void> {
    return this.queue;
  }

  private async process(msg: ToCoordinatorWorker): Promise<void> {
    switch (msg.type) {
      case "start":
        await this.start(msg);
        return;
      case "reset-readers": {
        const c = this.contexts.get(msg.vertexId);
        if (!c) return;
        c.epoch = msg.epoch;
        const readers = [...c.registered];
        c.registered.clear();
        // Every subtask, registered or not: a reader may have got splits and failed before it registered again.
        for (let subtask = 0; subtask < c.source.parallelism; subtask++) {
          const back = c.tracker.takeUncheckpointed(subtask, msg.restoredCheckpointId);
          if (back.length > 0) this.call(c, "addSplitsBack", () => c.enumerator!.addSplitsBack(back, subtask));
        }
        if (readers.length > 0) this.post({ type: "log", level: "info", message: `${c.source.name}: readers ${readers.join(", ")} are gone` });
        return;
      }
      case "add-reader": {
        const c = this.live(msg.vertexId, msg.epoch);
        if (!c) return;
        c.registered.add(msg.subtask);
        this.call(c, "addReader", () => c.enumerator!.addReader(msg.subtask));
        return;
      }
      case "split-request": {
        const c = this.live(msg.vertexId, msg.epoch);
        if (!c) return;
        this.call(c, "handleSplitRequest", () => {
          if (typeof c.enumerator!.handleSplitRequest !== "function")
            throw new Error("the reader asked for a split, but the enumerator has no handleSplitRequest");
          c.enumerator!.handleSplitRequest(msg.subtask);
        });
        return;
      }
      case "source-event": {
        const c = this.live(msg.vertexId, msg.epoch);
        if (!c) return;
        this.call(c, "handleSourceEvent", () => c.enumerator!.handleSourceEvent?.(msg.subtask, msg.event));
        return;
      }
      case "snapshot": {
        const states: Record<string, unknown> = {};
        const splitCounts: Record<string, number> = {};
        try {
          if (this.contexts.size === 0) throw new RiffleError("SOURCE_COORDINATOR_FAILED", "the source enumerators are not running");
          for (const c of this.contexts.values()) {
            const state = c.enumerator!.snapshotState(msg.checkpointId);
            states[c.source.uid] = plainValue(state, `the state of the enumerator of ${c.source.name}`);
            c.tracker.onSnapshot(msg.checkpointId);
            const splits = c.enumerator!.splitCount?.();
            if (typeof splits === "number" && Number.isInteger(splits) && splits > 0) splitCounts[c.source.vertexId] = splits;
          }
        } catch (err) {
          const e = toRiffleError(err, "SOURCE_COORDINATOR_FAILED");
          this.post({ type: "snapshot", id: msg.id, error: { code: e.code, message: e.message } });
          return;
        }
        this.post({ type: "snapshot", id: msg.id, states, splitCounts });
        return;
      }
      case "checkpoint-complete":
        for (const c of this.contexts.values()) {
          c.tracker.onCheckpointComplete(msg.checkpointId);
          const e = c.enumerator!;
          if (typeof e.notifyCheckpointComplete === "function") {
            this.call(c, "notifyCheckpointComplete", () => e.notifyCheckpointComplete!(msg.checkpointId));
          }
        }
        return;
      case "close":
        await this.closeAll();
        this.post({ type: "closed" });
        return;
    }
  }

  /** The context of `vertexId` if `epoch` is its current one (older messages are for readers that are gone). */
  private live(vertexId: string, epoch: number): EnumeratorContext | undefined {
    const c = this.contexts.get(vertexId);
    return c && c.epoch === epoch ? c : undefined;
  }

  private async start(req: StartRequest): Promise<void> {
    await this.closeAll();
    let functions: readonly unknown[];
    try {
      functions = await this.load(req);
    } catch (err) {
      this.fail(req.epoch, undefined, err);
      return;
    }
    for (const source of req.sources) {
      const c = new EnumeratorContext(this.post, req, source);
      this.contexts.set(source.vertexId, c);
      try {
        const s = functions[source.fn] as Source<unknown> | undefined;
        if (typeof s?.createEnumerator !== "function") {
          throw new RiffleError("SOURCE_COORDINATOR_FAILED", `function ${source.fn} of the job is not a source with an enumerator`);
        }
        c.enumerator = s.createEnumerator(c, source.restored?.state);
        if (typeof c.enumerator?.snapshotState !== "function" || typeof c.enumerator.addReader !== "function") {
          throw new RiffleError("SOURCE_COORDINATOR_FAILED", "createEnumerator did not return a SplitEnumerator (addReader, addSplitsBack, snapshotState)");
        }
      } catch (err) {
        this.fail(req.epoch, c, err);
        return;
      }
    }
    // Started without waiting: an enumerator's discovery may take its time (a broker still starting),
    // and snapshots and readers must not wait for it.
    for (const c of this.contexts.values()) this.call(c, "start", () => c.enumerator!.start());
    this.post({ type: "started", epoch: req.epoch });
  }

  /** Runs an enumerator method; a throw or a rejection fails the job (Flink: the coordinator fails the job). */
  private call(c: EnumeratorContext, what: string, fn: () => unknown): void {
    try {
      const r = fn();
      if (r && typeof (r as Promise<unknown>).then === "function") {
        (r as Promise<unknown>).catch((err: unknown) => {
          if (c.live) this.fail(c.epoch, c, err, what);
        });
      }
    } catch (err) {
      this.fail(c.epoch, c, err, what);
    }
  }

  private fail(epoch: number | undefined, c: EnumeratorContext | undefined, err: unknown, what?: string): void {
    const e = toRiffleError(err, "SOURCE_COORDINATOR_FAILED");
    const where = c ? `the split enumerator of ${c.source.name}${what ? ` (${what})` : ""}` : "the source coordinators";
    this.post({
      type: "failed",
      epoch: epoch ?? -1,
      ...(c ? { vertexId: c.source.vertexId } : {}),
      error: { code: e.code, message: `${where} failed: ${e.message}` },
    });
  }

  private async closeAll(): Promise<void> {
    const all = [...this.contexts.values()];
    this.contexts.clear();
    for (const c of all) {
      c.live = false;
      try {
        await c.enumerator?.close?.();
      } catch (err) {
        this.post({ type: "log", level: "warn", message: `closing the split enumerator of ${c.source.name} failed: ${describeError(err)}` });
      }
    }
  }
}

/** What one enumerator may do (Flink's SourceCoordinatorContext), bound to its epoch. */
class EnumeratorContext implements SplitEnumeratorContext<SourceSplit> {
  enumerator: SplitEnumerator<SourceSplit, unknown> | undefined;
  readonly registered = new Set<number>();
  readonly tracker = new SplitAssignmentTracker<SourceSplit>();
  epoch: number;
  /** False once the enumerator was closed: calls of its timers that still fire do nothing. */
  live = true;

  constructor(
    private readonly post: (msg: FromCoordinatorWorker) => void,
    private readonly job: StartRequest,
    readonly source: CoordinatedSource,
  ) {
    this.epoch = job.epoch;
  }

  get jobId(): string {
    return this.job.jobId;
  }

  get jobName(): string {
    return this.job.jobName;
  }

  get sourceName(): string {
    return this.source.name;
  }

  currentParallelism(): number {
    return this.source.parallelism;
  }

  registeredReaders(): number[] {
    return [...this.registered].sort((a, b) => a - b);
  }

  assignSplits(assignment: ReadonlyMap<number, readonly SourceSplit[]>): void {
    if (!this.live) return;
    if (!(assignment instanceof Map)) throw new TypeError("assignSplits takes a Map from subtask index to splits");
    for (const [subtask, splits] of assignment) {
      this.checkReader(subtask, "assign splits to");
      if (!Array.isArray(splits)) throw new TypeError(`assignSplits: the splits of subtask ${subtask} are not an array`);
    }
    for (const [subtask, splits] of assignment) {
      if (splits.length === 0) continue;
      const plain = plainValue([...splits], "a split") as SourceSplit[];
      this.tracker.recordAssignment(subtask, plain);
      this.post({ type: "assign", epoch: this.epoch, vertexId: this.source.vertexId, subtask, splits: plain });
    }
  }

  assignSplit(split: SourceSplit, subtaskId: number): void {
    this.assignSplits(new Map([[subtaskId, [split]]]));
  }

  signalNoMoreSplits(subtaskId: number): void {
    if (!this.live) return;
    this.checkReader(subtaskId, "signal no more splits to");
    this.post({ type: "no-more-splits", epoch: this.epoch, vertexId: this.source.vertexId, subtask: subtaskId });
  }

  sendEventToSourceReader(subtaskId: number, event: unknown): void {
    if (!this.live) return;
    this.checkReader(subtaskId, "send an event to");
    this.post({ type: "event", epoch: this.epoch, vertexId: this.source.vertexId, subtask: subtaskId, event: plainValue(event, "a source event") });
  }

  failJob(error: unknown): void {
    if (!this.live) return;
    const e = toRiffleError(error, "SOURCE_COORDINATOR_FAILED");
    this.post({
      type: "failed",
      epoch: this.epoch,
      vertexId: this.source.vertexId,
      error: { code: e.code, message: `the split enumerator of ${this.source.name} failed the job: ${e.message}` },
    });
  }

  private checkReader(subtask: number, what: string): void {
    if (!Number.isInteger(subtask) || subtask < 0 || subtask >= this.source.parallelism) {
      throw new RangeError(`cannot ${what} subtask ${subtask}: ${this.source.name} has subtasks 0 to ${this.source.parallelism - 1}`);
    }
    if (!this.registered.has(subtask)) throw new Error(`cannot ${what} subtask ${subtask} of ${this.source.name}: its reader has not registered`);
  }
}

/**
 * `value` as it will be stored and sent (JSON): splits, events and states must be plain values. A
 * value JSON cannot carry (a function, a cycle, a BigInt) fails here, naming what it was.
 */
function plainValue(value: unknown, what: string): unknown {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw new RiffleError("SOURCE_COORDINATOR_FAILED", `${what} cannot be stored as JSON: ${describeError(err)}`);
  }
  return json === undefined ? null : JSON.parse(json);
}
