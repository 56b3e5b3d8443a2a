import { isTwoPhaseCommitWriter, type RestoredCheckpoint, type Sink, type SinkWriter, type TwoPhaseCommitWriter } from "../api/sink.js";
import type { ListState } from "../state/state.js";
import { StreamOperator, type OperatorRuntime, type OperatorStateContext } from "./operator.js";
import { snapshotList } from "./snapshot-list.js";

interface PendingCommit {
  checkpointId: number;
  txn: unknown;
}

/**
 * Runs a sink's writer. Before every checkpoint barrier the writer flushes (awaited: the task takes no
 * record meanwhile), so every sink is at least at-least-once. A two-phase-commit writer is driven
 * through its transactions: staged at each barrier (awaited too), committed when the checkpoint
 * completes, and after a restore the transactions staged in the restored checkpoint are committed again
 * (idempotently) before leftovers are removed, sparing what a newer savepoint may still commit
 * (RestoredCheckpoint.retainedUpTo).
 *
 * Staged transactions are split state: each belongs to exactly one subtask, also after a rescale, so
 * one subtask commits it (a Kafka transaction must have one owner; decision record 0012). Checkpoints
 * taken before that kept them as union state ("pending-commits"): restored, transaction k of that list
 * goes to subtask k mod parallelism.
 *
 * Any writer may also keep state of its own (`snapshotState`, split list state handed back to
 * `createWriter` on restore) and hear of completed and aborted checkpoints.
 */
export class SinkOperator extends StreamOperator {
  private writer: SinkWriter<unknown> | undefined;
  private twoPhase: TwoPhaseCommitWriter<unknown, unknown> | undefined;
  private pending: PendingCommit[] = [];
  private pendingState: ListState<PendingCommit> | undefined;
  private writerState: ListState<unknown> | undefined;
  private lastCheckpointId = 0;

  constructor(private readonly sink: Sink<unknown>) {
    super();
    if (typeof sink?.createWriter !== "function") throw new Error("sinkTo needs a Sink (an object with createWriter)");
  }

  override async initializeState(state: OperatorStateContext, rt: OperatorRuntime): Promise<void> {
    this.writerState = state.operator.getListState("sink-writer-state");
    this.writer = await this.sink.createWriter(rt.ctx, rt.services, state.isRestored ? this.writerState.get() : undefined);
    if (!isTwoPhaseCommitWriter(this.writer)) return;
    this.twoPhase = this.writer;
    this.pendingState = state.operator.getListState<PendingCommit>("pending-transactions");
    if (!state.isRestored) {
      // A restart that restores nothing (no checkpoint completed yet): earlier attempts may have left
      // transactions open that no checkpoint will commit.
      const history = state.history;
      if (history && (rt.ctx.attempt ?? 0) > 0) {
        await this.twoPhase.abortLeftovers([], { checkpointId: 0, ...history, previousParallelism: rt.ctx.parallelism });
      } else if ((rt.ctx.attempt ?? 0) === 0) {
        // A fresh start: earlier jobs under the same names may have left transactions open.
        await this.twoPhase.abortLingering?.();
      }
      return;
    }
    const restored = [...this.pendingState.get(), ...this.legacyShare(state, rt)];
    for (const p of restored) {
      await this.twoPhase.commit(p.txn);
      this.lastCheckpointId = Math.max(this.lastCheckpointId, p.checkpointId);
    }
    // A runtime that does not say what it restores from gets the safe answer: keep every staged transaction.
    const from: RestoredCheckpoint = state.restoredFrom ?? { checkpointId: this.lastCheckpointId, retainedUpTo: Number.MAX_SAFE_INTEGER };
    this.lastCheckpointId = Math.max(this.lastCheckpointId, from.checkpointId);
    await this.twoPhase.abortLeftovers(
      restored.map((p) => p.txn),
      from,
    );
    this.pendingState.update([]);
  }

  /** This subtask's share of a restored union list of staged transactions (checkpoints of earlier versions). */
  private legacyShare(state: OperatorStateContext, rt: OperatorRuntime): PendingCommit[] {
    if (!state.operator.has?.("pending-commits")) return [];
    const legacy = state.operator.getUnionListState<PendingCommit>("pending-commits");
    const all = legacy.get();
    legacy.update([]);
    return all.filter((_, k) => k % rt.ctx.parallelism === rt.ctx.subtaskIndex);
  }

  processElement(record: unknown): void {
    this.writer!.write(record);
  }

  /**
   * Before barrier n: the writer flushes, then a two-phase-commit writer stages its transaction. A
   * promise when either is asynchronous; the task then awaits it before it snapshots and sends the
   * barrier on, so the snapshot holds the staged transaction and nothing written after the barrier is
   * in it.
   */
  override prepareSnapshotPreBarrier(checkpointId: number): Promise<void> | undefined {
    const flushed = this.writer?.flush?.(false);
    if (!this.twoPhase) return isPromise(flushed) ? flushed.then(() => {}) : undefined;
    const twoPhase = this.twoPhase;
    const stage = (): Promise<void> | undefined => {
      const txn = twoPhase.preCommit(checkpointId);
      if (!isPromise(txn)) {
        if (txn !== undefined) this.pending.push({ checkpointId, txn });
        return undefined;
      }
      return txn.then((t) => {
        if (t !== undefined) this.pending.push({ checkpointId, txn: t });
      });
    };
    return isPromise(flushed) ? flushed.then(stage) : stage();
  }

  override snapshotState(checkpointId: number): void {
    this.lastCheckpointId = checkpointId;
    this.pendingState?.update(this.pending);
    // After preCommit (as in Flink's SinkWriterOperator): the writer's state then describes only what
    // follows the staged transaction.
    this.writerState!.update(snapshotList("the sink writer", this.writer!.snapshotState?.(checkpointId)));
  }

  /**
   * Commits every transaction staged up to `checkpointId` (data of an aborted checkpoint rides on the
   * next), then tells the writer, so that a writer acting on completion sees its data committed.
   */
  override async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    if (this.twoPhase) {
      while (this.pending.length > 0 && this.pending[0]!.checkpointId <= checkpointId) {
        await this.twoPhase.commit(this.pending[0]!.txn);
        this.pending.shift();
      }
    }
    await this.writer?.notifyCheckpointComplete?.(checkpointId);
  }

  /** Only the writer hears of it: transactions staged for the aborted checkpoint stay pending for the next. */
  override async notifyCheckpointAborted(checkpointId: number): Promise<void> {
    await this.writer?.notifyCheckpointAborted?.(checkpointId);
  }

  /** Whether the writer can ever report no room (after initializeState). */
  canBlock(): boolean {
    return typeof this.writer?.isAvailable === "function";
  }

  override isAvailable(): boolean {
    return this.writer?.isAvailable?.() ?? true;
  }

  override available(): Promise<void> {
    return this.writer?.available?.() ?? Promise.resolve();
  }

  /**
   * End of input: write out, and commit what is left. With checkpoints, sources end only after a
   * final checkpoint covered all their records, so nothing is left here but data of jobs without
   * checkpoints, which is committed now.
   */
  override async endInput(): Promise<void> {
    await this.writer?.flush?.(true);
    if (!this.twoPhase) return;
    const txn = await this.twoPhase.preCommit(this.lastCheckpointId + 1);
    if (txn !== undefined) this.pending.push({ checkpointId: this.lastCheckpointId + 1, txn });
    for (const p of this.pending) await this.twoPhase.commit(p.txn);
    this.pending = [];
  }

  override async close(): Promise<void> {
    await this.writer?.close?.();
  }
}

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | undefined)?.then === "function";
}
