import type { CheckpointMetadata, JobGraph, OperatorState, TaskStateSnapshot } from "@riffle/shared";

export interface MetadataInput {
  jobId: string;
  jobName: string;
  checkpointId: number;
  timestamp: number;
  isSavepoint: boolean;
  graph: JobGraph;
  /** One per subtask of the job: what it acknowledged, or (finished tasks) what it last acknowledged. */
  snapshots: readonly TaskStateSnapshot[];
  /** The source coordinators' states, by the uid of their source operator. */
  coordinators?: Readonly<Record<string, unknown>>;
}

/**
 * The `_metadata` of a checkpoint: the acknowledged states regrouped by operator uid, each with its
 * vertex's parallelism and one entry per subtask (empty for subtasks that reported nothing for it).
 * Operators appear in graph order; an operator no subtask reported state for is left out.
 */
export function buildCheckpointMetadata(input: MetadataInput): CheckpointMetadata {
  const { graph } = input;
  const parallelismOf = new Map(graph.vertices.map((v) => [v.id, v.parallelism]));
  const order = new Map<string, number>();
  for (const v of graph.vertices) for (const op of v.operators) if (!order.has(op.uid)) order.set(op.uid, order.size);

  const byUid = new Map<string, OperatorState>();
  for (const snapshot of input.snapshots) {
    const parallelism = parallelismOf.get(snapshot.vertexId) ?? snapshot.subtask + 1;
    for (const op of snapshot.operators) {
      let state = byUid.get(op.uid);
      if (!state) {
        state = {
          uid: op.uid,
          parallelism,
          maxParallelism: graph.maxParallelism,
          subtasks: Array.from({ length: parallelism }, () => ({ keyed: [], operator: [] })),
        };
        byUid.set(op.uid, state);
      }
      state.subtasks[snapshot.subtask] = { keyed: op.keyed, operator: op.operator };
    }
  }
  for (const [uid, coordinatorState] of Object.entries(input.coordinators ?? {})) {
    let state = byUid.get(uid);
    if (!state) {
      const vertex = graph.vertices.find((v) => v.operators.some((o) => o.uid === uid));
      const parallelism = vertex?.parallelism ?? 1;
      state = { uid, parallelism, maxParallelism: graph.maxParallelism, subtasks: Array.from({ length: parallelism }, () => ({ keyed: [], operator: [] })) };
      byUid.set(uid, state);
    }
    state.coordinatorState = coordinatorState;
  }
  const position = (uid: string) => order.get(uid) ?? Number.MAX_SAFE_INTEGER;
  const operators = [...byUid.values()].sort((a, b) => position(a.uid) - position(b.uid) || a.uid.localeCompare(b.uid));
  return {
    version: 1,
    jobId: input.jobId,
    jobName: input.jobName,
    checkpointId: input.checkpointId,
    timestamp: input.timestamp,
    isSavepoint: input.isSavepoint,
    maxParallelism: graph.maxParallelism,
    operators,
  };
}

/** Subtask `subtask`'s part of a checkpoint for the operators of its chain, as a TaskStateSnapshot. */
export function subtaskSnapshot(metadata: CheckpointMetadata, vertexId: string, uids: readonly string[], subtask: number): TaskStateSnapshot {
  const operators: TaskStateSnapshot["operators"] = [];
  for (const state of metadata.operators) {
    if (!uids.includes(state.uid)) continue;
    const entry = state.subtasks[subtask];
    if (entry) operators.push({ uid: state.uid, keyed: entry.keyed, operator: entry.operator });
  }
  return { vertexId, subtask, operators };
}
