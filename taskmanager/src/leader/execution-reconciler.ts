/**
 * Heartbeat reconciliation (Flink's TaskExecutor#reconcileExecutionDeploymentsOnHeartbeat): every
 * heartbeat of the JobManager lists the executions it believes run on this TaskManager. A task the
 * TaskManager runs that two heartbeats in a row leave out is stale (the JobManager gave up on it, or
 * another leader deployed it) and is cancelled. Two, not one: a deployment can cross a heartbeat
 * computed just before it.
 */
export class ExecutionReconciler {
  private readonly missing = new Map<string, number>();

  /**
   * `live`: the executions running here now; `known`: the JobManager's list. Returns those to cancel.
   */
  reconcile(live: ReadonlyArray<{ executionId: string; jobId: string }>, known: readonly string[]): Array<{ executionId: string; jobId: string }> {
    const expected = new Set(known);
    const stale: Array<{ executionId: string; jobId: string }> = [];
    const seen = new Set<string>();
    for (const task of live) {
      seen.add(task.executionId);
      if (expected.has(task.executionId)) {
        this.missing.delete(task.executionId);
        continue;
      }
      const times = (this.missing.get(task.executionId) ?? 0) + 1;
      if (times >= 2) {
        this.missing.delete(task.executionId);
        stale.push(task);
      } else this.missing.set(task.executionId, times);
    }
    for (const id of this.missing.keys()) if (!seen.has(id)) this.missing.delete(id);
    return stale;
  }

  /** A new JobManager connection: what an earlier one left out does not count against the next. */
  reset(): void {
    this.missing.clear();
  }
}
