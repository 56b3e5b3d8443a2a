/**
 * The TaskManager's part in JobManager high availability (issue 10): the fencing guard that refuses
 * commands of deposed leaders, the reconciliation of the executions the leader lists in its
 * heartbeats, and the list of JobManager addresses the connection tries in turn to find the leader.
 *
 * ```ts
 * const guard = new FencingGuard(log, registry);
 * guard.check(tdd.fencingToken, "DeployTask", tdd.executionId); // throws FENCING_TOKEN_OUTDATED for an older leader
 * ```
 */
export { FencingGuard } from "./fencing-guard.js";
export { ExecutionReconciler } from "./execution-reconciler.js";
export { jobManagerAddresses } from "./addresses.js";
