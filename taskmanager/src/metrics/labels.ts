/** The labels of every per-task metric, Flink's task scope. */
export const TASK_LABELS = ["job_id", "vertex_id", "task_name", "subtask_index"] as const;
