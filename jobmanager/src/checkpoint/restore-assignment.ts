import { RiffleError, keyGroupRangeForSubtask, type CheckpointMetadata, type KeyGroupRangeJson, type TaskRestore } from "@riffle/shared";

/** The subtask a TaskRestore is for. */
export interface RestoreTarget {
  /** The uids of the operators of the subtask's chain. */
  uids: readonly string[];
  subtask: number;
  parallelism: number;
  maxParallelism: number;
}

/**
 * What one subtask restores from a checkpoint, at any parallelism (Flink's StateAssignmentOperation):
 *
 *   keyed state      the handles of every old subtask whose key-group range overlaps the new
 *                    subtask's range; the task reads only its own key groups from them
 *   operator state   every old subtask's handles, in old-subtask order; the task takes its share
 *                    (even split or union) itself, knowing `oldParallelism`
 *
 *   old p=2:  [0 ........ 63][64 ....... 127]
 *   new p=3:  [0 .... 42][43 .... 85][86 .. 127]
 *             old 0       old 0+1     old 1
 *
 * Operators of the chain without state in the checkpoint are left out. `baseDir` is the absolute
 * directory of the checkpoint, which the handles' paths are relative to. `retainedUpTo` is the newest
 * completed checkpoint or savepoint of the job (see TaskRestore), the restored one when none is newer.
 */
export function assignTaskRestore(metadata: CheckpointMetadata, baseDir: string, target: RestoreTarget, retainedUpTo: number): TaskRestore {
  if (metadata.maxParallelism !== target.maxParallelism) {
    throw new RiffleError(
      "CHECKPOINT_INCOMPATIBLE",
      `checkpoint ${metadata.checkpointId} was taken with max parallelism ${metadata.maxParallelism} but the job has ${target.maxParallelism}; the max parallelism of a job cannot change`,
    );
  }
  const range = keyGroupRangeForSubtask(target.subtask, target.parallelism, target.maxParallelism);
  const operators: TaskRestore["operators"] = [];
  for (const uid of target.uids) {
    const state = metadata.operators.find((o) => o.uid === uid);
    if (!state) continue;
    operators.push({
      uid,
      keyed: state.subtasks.flatMap((s) => s.keyed.filter((h) => overlaps(h.keyGroupRange, range))),
      operator: state.subtasks.flatMap((s) => s.operator),
      oldParallelism: state.parallelism,
    });
  }
  return { checkpointId: metadata.checkpointId, baseDir, retainedUpTo: Math.max(retainedUpTo, metadata.checkpointId), operators };
}

export function overlaps(a: KeyGroupRangeJson, b: KeyGroupRangeJson): boolean {
  return a.start <= a.end && b.start <= b.end && a.start <= b.end && b.start <= a.end;
}
