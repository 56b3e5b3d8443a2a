import type { JobGraph } from "@riffle/shared";
import type { CheckpointTask } from "./pending-checkpoint.js";

/**
 * Which tasks a checkpoint is triggered at, which must acknowledge it, and which are carried over
 * (Flink's CheckpointPlan):
 *
 *   trigger      the running source tasks (head operator of kind "source"): they snapshot their
 *                positions and start barrier n; every other task gets it in-band
 *   acknowledge  every task that has not finished
 *   carry over   finished tasks: their state no longer changes, so their last completed snapshot
 *                stands for them (a channel of a finished producer counts as aligned downstream)
 *
 * Once every source has finished no checkpoint is triggered: the TaskManagers keep sources running
 * until a checkpoint after their end of input completed, so nothing uncommitted is left by then.
 */
export interface CheckpointPlan {
  toTrigger: CheckpointTask[];
  toAcknowledge: CheckpointTask[];
  finished: CheckpointTask[];
}

/** The plan, or why no checkpoint can be taken now (no source runs, or one is not running yet). */
export function calculateCheckpointPlan(graph: JobGraph, tasks: readonly CheckpointTask[]): CheckpointPlan | { notReady: string } {
  const sourceVertices = new Set(graph.vertices.filter((v) => v.operators[0]?.kind === "source").map((v) => v.id));
  const plan: CheckpointPlan = { toTrigger: [], toAcknowledge: [], finished: [] };
  for (const task of tasks) {
    if (task.status === "finished") {
      plan.finished.push(task);
      continue;
    }
    plan.toAcknowledge.push(task);
    if (sourceVertices.has(task.vertexId)) plan.toTrigger.push(task);
  }
  if (plan.toTrigger.length === 0) return { notReady: "no source task is running" };
  const notRunning = plan.toTrigger.filter((t) => t.status !== "running");
  if (notRunning.length > 0) return { notReady: `${notRunning.map((t) => t.name).join(", ")} ${notRunning.length === 1 ? "is" : "are"} not running yet` };
  return plan;
}
