import { connectEdge, type ChannelSpec, type JobGraph } from "@riffle/shared";
import type { CheckpointTask } from "./pending-checkpoint.js";

/**
 * Which tasks a checkpoint is triggered at, which must acknowledge it, and which are carried over
 * (Flink's CheckpointPlan, with FLIP-147's handling of finished tasks):
 *
 *   trigger      tasks no barrier can reach through an input: sources, and tasks whose connected
 *                producers have all finished (they start the barrier in place of their sources)
 *   acknowledge  every task that has not finished
 *   carry over   finished tasks: their state no longer changes, so their last completed snapshot
 *                stands for them
 */
export interface CheckpointPlan {
  toTrigger: CheckpointTask[];
  toAcknowledge: CheckpointTask[];
  finished: CheckpointTask[];
}

/** The plan, or why no checkpoint can be taken now (a task to trigger is not running yet, or nothing runs). */
export function calculateCheckpointPlan(graph: JobGraph, tasks: readonly CheckpointTask[]): CheckpointPlan | { notReady: string } {
  const bySubtask = new Map<string, CheckpointTask>();
  for (const t of tasks) bySubtask.set(`${t.vertexId}/${t.subtask}`, t);
  const vertices = new Map(graph.vertices.map((v) => [v.id, v]));
  const edges = new Map(graph.edges.map((e) => [e.id, e]));
  const channels = new Map<string, ChannelSpec[][]>();
  const channelsOf = (edgeId: string): ChannelSpec[][] => {
    let c = channels.get(edgeId);
    if (!c) {
      const e = edges.get(edgeId);
      const up = e ? vertices.get(e.source) : undefined;
      const down = e ? vertices.get(e.target) : undefined;
      c = e && up && down ? connectEdge(e.partitioner, up.parallelism, down.parallelism).channelsOf : [];
      channels.set(edgeId, c);
    }
    return c;
  };
  const producersFinished = (task: CheckpointTask): boolean => {
    const vertex = vertices.get(task.vertexId);
    if (!vertex) return false;
    return vertex.inputs.every((edgeId) => {
      const source = edges.get(edgeId)?.source;
      return (channelsOf(edgeId)[task.subtask] ?? []).every((c) => bySubtask.get(`${source}/${c.producer}`)?.status === "finished");
    });
  };

  const plan: CheckpointPlan = { toTrigger: [], toAcknowledge: [], finished: [] };
  for (const task of tasks) {
    if (task.status === "finished") {
      plan.finished.push(task);
      continue;
    }
    plan.toAcknowledge.push(task);
    if (producersFinished(task)) plan.toTrigger.push(task);
  }
  if (plan.toAcknowledge.length === 0) return { notReady: "every task has finished" };
  const notRunning = plan.toTrigger.filter((t) => t.status !== "running");
  if (notRunning.length > 0) return { notReady: `${notRunning.map((t) => t.name).join(", ")} ${notRunning.length === 1 ? "is" : "are"} not running yet` };
  return plan;
}
