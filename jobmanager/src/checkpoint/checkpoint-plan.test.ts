import { describe, expect, it } from "vitest";
import { testGraph } from "../testing/fixtures.js";
import { calculateCheckpointPlan } from "./checkpoint-plan.js";
import type { CheckpointTask } from "./pending-checkpoint.js";

/** The test graph with two source subtasks: Source (2) → Map -> Sink (2). */
const graph = testGraph();
graph.vertices[0]!.parallelism = 2;

const task = (vertexId: string, subtask: number, status: CheckpointTask["status"]): CheckpointTask => ({
  executionId: `${vertexId}-${subtask}`,
  vertexId,
  subtask,
  name: `${vertexId} (${subtask + 1}/2)`,
  address: "tm:1",
  status,
});
const ids = (tasks: CheckpointTask[]) => tasks.map((t) => t.executionId);

describe("checkpoint plan", () => {
  it("triggers the running sources, expects every task that has not finished, and carries the finished ones", () => {
    const plan = calculateCheckpointPlan(graph, [task("v1", 0, "finished"), task("v1", 1, "running"), task("v2", 0, "other"), task("v2", 1, "finished")]);
    expect("notReady" in plan).toBe(false);
    if ("notReady" in plan) return;
    expect(ids(plan.toTrigger)).toEqual(["v1-1"]);
    expect(ids(plan.toAcknowledge)).toEqual(["v1-1", "v2-0"]);
    expect(ids(plan.finished)).toEqual(["v1-0", "v2-1"]);
  });

  it("is not ready while a source that has not finished is not running", () => {
    expect(calculateCheckpointPlan(graph, [task("v1", 0, "running"), task("v1", 1, "other"), task("v2", 0, "running")])).toEqual({
      notReady: "v1 (2/2) is not running yet",
    });
  });

  it("is not ready once every source has finished", () => {
    expect(calculateCheckpointPlan(graph, [task("v1", 0, "finished"), task("v1", 1, "finished"), task("v2", 0, "running")])).toEqual({
      notReady: "no source task is running",
    });
  });
});
