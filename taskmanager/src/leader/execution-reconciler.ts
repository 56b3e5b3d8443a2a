/**
 * Heartbeat reconciliation (Flink's TaskExecutor#reconcileExecutionDeploymentsOnHeartbeat): every
 * heartbeat of the JobManager lists the executions it believes run on this TaskManager. A task the
 * TaskManager runs that the heartbeats keep leaving out is stale (the JobManager gave up on it, or
 * another leader deployed it) and is cancelled: once two heartbeats in a row left it out, and it has
 * been left out for at least `graceMs`. Both, not one: a deployment can cross a heartbeat computed
 * just before it, and on a loaded machine several heartbeats computed before a deployment can arrive
 * after it.
 */
export class ExecutionReconciler {
  /** Per execution left out: how many heartbeats in a row, and when the first of them arrived. */
  private readonly missing = new Map<string, { times: number; since: number }>();

  constructor(private readonly graceMs: number) {}

  /**
   * `live`: the executions running here now; `known`: the JobManager's list; `now`: when the heartbeat
   * arrived. Returns those to cancel.
   */
  reconcile(live: ReadonlyArray<{ executionId: string; jobId: string }>, known: readonly string[], now: number): Array<{ executionId: string; jobId: string }> {
    const expected = new Set(known);
    const stale: Array<{ executionId: string; jobId: string }> = [];
    const seen = new Set<string>();
    for (const task of live) {
      seen.add(task.executionId);
      if (expected.has(task.executionId)) {
        this.missing.delete(task.executionId);
        continue;
      }
      const entry = this.missing.get(task.executionId) ?? { times: 0, since: now };
      entry.times++;
      if (entry.times >= 2 && now - entry.since >= this.graceMs) {
        this.missing.delete(task.executionId);
        stale.push(task);
      } else this.missing.set(task.executionId, entry);
    }
    for (const id of this.missing.keys()) if (!seen.has(id)) this.missing.delete(id);
    return stale;
  }

  /** A new JobManager connection: what an earlier one left out does not count against the next. */
  reset(): void {
    this.missing.clear();
  }
}
