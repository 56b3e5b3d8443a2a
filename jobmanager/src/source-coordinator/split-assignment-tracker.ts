/**
 * Which splits the enumerator gave which reader since which checkpoint (Flink's
 * SplitAssignmentTracker). A reader that fails restarts from the checkpoint the job restores; the
 * splits it got after that checkpoint's coordinator snapshot are in no checkpoint at all, neither the
 * enumerator's (they were assigned) nor the reader's (they came later), so they go back to the
 * enumerator (`addSplitsBack`).
 *
 *   assign ─► uncheckpointed ──snapshot n──► byCheckpoint[n] ──checkpoint n complete──► forgotten
 *   restore from m ─► every entry after m, and the uncheckpointed ones, go back
 */
export class SplitAssignmentTracker<Split> {
  /** Assignments made before the snapshot of each checkpoint (and after the one before), by checkpoint id. */
  private readonly byCheckpoint = new Map<number, Map<number, Split[]>>();
  private uncheckpointed = new Map<number, Split[]>();

  recordAssignment(subtask: number, splits: readonly Split[]): void {
    let list = this.uncheckpointed.get(subtask);
    if (!list) {
      list = [];
      this.uncheckpointed.set(subtask, list);
    }
    list.push(...splits);
  }

  /** The coordinator took its snapshot for checkpoint n: what was assigned so far is in it (once the readers' part completes). */
  onSnapshot(checkpointId: number): void {
    if (this.uncheckpointed.size > 0) this.byCheckpoint.set(checkpointId, this.uncheckpointed);
    this.uncheckpointed = new Map();
  }

  /** Checkpoint n completed: assignments made before its snapshot are in the readers' states for good. */
  onCheckpointComplete(checkpointId: number): void {
    for (const id of [...this.byCheckpoint.keys()]) if (id <= checkpointId) this.byCheckpoint.delete(id);
  }

  /**
   * The splits `subtask` got after the snapshot of `restoredCheckpointId` (all it got, when the job
   * restores nothing), removed from the tracker.
   */
  takeUncheckpointed(subtask: number, restoredCheckpointId: number | undefined): Split[] {
    const out: Split[] = [];
    for (const [id, assignments] of [...this.byCheckpoint.entries()].sort((a, b) => a[0] - b[0])) {
      if (restoredCheckpointId !== undefined && id <= restoredCheckpointId) continue;
      const splits = assignments.get(subtask);
      if (splits) out.push(...splits);
      assignments.delete(subtask);
      if (assignments.size === 0) this.byCheckpoint.delete(id);
    }
    const latest = this.uncheckpointed.get(subtask);
    if (latest) out.push(...latest);
    this.uncheckpointed.delete(subtask);
    return out;
  }
}
