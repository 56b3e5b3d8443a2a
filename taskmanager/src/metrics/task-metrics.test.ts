import { describe, expect, it } from "vitest";
import { Registry } from "@riffle/shared";
import { NetworkBufferPool } from "../network/buffer-pool.js";
import type { Task } from "../task/task.js";
import { registerTaskMetrics } from "./task-metrics.js";

describe("task metrics", () => {
  it("reports the late records a task's operators dropped, labelled with the task", async () => {
    const registry = new Registry();
    const task = {
      tdd: { jobId: "job-1", vertexId: "v2", subtaskIndex: 1 },
      vertex: { name: "Window(TumblingEventTimeWindows(10000))" },
      numLateRecordsDropped: 3,
    } as unknown as Task;
    registerTaskMetrics(registry, () => [task], new NetworkBufferPool(4, 1024));
    const text = await registry.getSingleMetricAsString("riffle_task_numLateRecordsDropped");
    expect(text).toContain(
      'riffle_task_numLateRecordsDropped{job_id="job-1",vertex_id="v2",task_name="Window(TumblingEventTimeWindows(10000))",subtask_index="1"} 3',
    );
  });
});
