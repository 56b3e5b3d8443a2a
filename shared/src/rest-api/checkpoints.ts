import { z } from "zod";

/**
 * One checkpoint or savepoint: Flink's CheckpointStatistics (snake_case, durations in ms, sizes in
 * bytes). `alignment_duration`, `sync_duration` and `async_duration` (the longest of any task) and
 * `failure_reason` are Riffle's; Flink shows those per task.
 */
export const CheckpointStatistics = z
  .object({
    id: z.number().int(),
    status: z.enum(["IN_PROGRESS", "COMPLETED", "FAILED"]),
    is_savepoint: z.boolean(),
    checkpoint_type: z.enum(["CHECKPOINT", "SAVEPOINT"]),
    trigger_timestamp: z.number().int(),
    /** -1 before the first acknowledgement. */
    latest_ack_timestamp: z.number().int(),
    state_size: z.number().int(),
    end_to_end_duration: z.number().int(),
    alignment_duration: z.number().int(),
    sync_duration: z.number().int(),
    async_duration: z.number().int(),
    num_subtasks: z.number().int(),
    num_acknowledged_subtasks: z.number().int(),
    /** Directory of a completed checkpoint. */
    external_path: z.string().nullable(),
    failure_reason: z.string().nullable(),
    failure_message: z.string().nullable(),
    failure_timestamp: z.number().int().nullable(),
  })
  .meta({ id: "CheckpointStatistics" });
export type CheckpointStatistics = z.infer<typeof CheckpointStatistics>;

const MinAvgMax = z.object({ min: z.number(), avg: z.number(), max: z.number() });

/** GET /jobs/:id/checkpoints: Flink's CheckpointingStatistics; the history holds the latest 20, newest first. */
export const CheckpointingStatistics = z
  .object({
    counts: z.object({
      restored: z.number().int(),
      total: z.number().int(),
      in_progress: z.number().int(),
      completed: z.number().int(),
      failed: z.number().int(),
    }),
    summary: z.object({ state_size: MinAvgMax, end_to_end_duration: MinAvgMax }),
    latest: z.object({
      /** The latest completed checkpoint or savepoint. */
      completed: CheckpointStatistics.nullable(),
      /** The latest completed savepoint. */
      savepoint: CheckpointStatistics.nullable(),
      failed: CheckpointStatistics.nullable(),
      restored: z.object({ id: z.number().int(), restore_timestamp: z.number().int(), external_path: z.string() }).nullable(),
    }),
    history: z.array(CheckpointStatistics),
  })
  .meta({ id: "CheckpointingStatistics" });
export type CheckpointingStatistics = z.infer<typeof CheckpointingStatistics>;

/** GET /jobs/:id/checkpoints/config: Flink's CheckpointConfigInfo; `retained` and `checkpoint_dir` are Riffle's. */
export const CheckpointConfig = z
  .object({
    mode: z.literal("exactly_once"),
    interval: z.number().int(),
    timeout: z.number().int(),
    min_pause: z.number().int(),
    max_concurrent: z.number().int(),
    externalization: z.object({ enabled: z.boolean(), delete_on_cancellation: z.boolean() }),
    state_backend: z.string(),
    checkpoint_storage: z.string(),
    unaligned_checkpoints: z.boolean(),
    tolerable_failed_checkpoints: z.number().int(),
    checkpoints_after_tasks_finish: z.boolean(),
    retained: z.number().int(),
    checkpoint_dir: z.string(),
  })
  .meta({ id: "CheckpointConfig" });
export type CheckpointConfig = z.infer<typeof CheckpointConfig>;
