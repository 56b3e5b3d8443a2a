import { z } from "zod";

/** Every error answer: a stable code (ErrorCodes in @riffle/shared) and a message saying what to do. */
export const ErrorBody = z.object({ code: z.string(), message: z.string() }).meta({ id: "Error" });
export type ErrorBody = z.infer<typeof ErrorBody>;

/** Job statuses; Flink's, plus STOPPING and RESCALING (a stop or rescale with a savepoint in progress). */
export const JOB_STATUSES = ["CREATED", "RUNNING", "RESTARTING", "STOPPING", "RESCALING", "FINISHED", "FAILING", "FAILED", "CANCELLING", "CANCELED"] as const;
export const JobStatus = z.enum(JOB_STATUSES).meta({ id: "JobStatus" });
export type JobStatus = z.infer<typeof JobStatus>;

/** Statuses a job never leaves. */
export const TERMINAL_JOB_STATUSES: ReadonlySet<JobStatus> = new Set<JobStatus>(["FINISHED", "FAILED", "CANCELED"]);

/** Flink's ExecutionState, without RECONCILING and INITIALIZING (Riffle has neither). */
export const EXECUTION_STATES = ["CREATED", "SCHEDULED", "DEPLOYING", "RUNNING", "FINISHED", "CANCELING", "CANCELED", "FAILED"] as const;
export const ExecutionState = z.enum(EXECUTION_STATES).meta({ id: "ExecutionState" });
export type ExecutionState = z.infer<typeof ExecutionState>;

/** 32 hex characters, as Flink's ids. */
export const JobId = z.string().meta({ description: "32 hexadecimal characters" });

export const JobIdParams = z.object({ id: JobId });
export const VertexParams = z.object({ id: JobId, vid: z.string() });
export const TriggerParams = z.object({ id: JobId, triggerId: z.string() });
export const TaskManagerIdParams = z.object({ id: z.string() });
export const CheckpointParams = z.object({
  id: JobId,
  cid: z.coerce.number({ error: "the checkpoint id must be a number" }).int("the checkpoint id must be an integer").min(1, "checkpoint ids start at 1"),
});

/** Flink's `[{id, value}]` (values as strings): watermarks, job, JobManager and subtask metrics. */
export const MetricCollection = z.array(z.object({ id: z.string(), value: z.string().optional() })).meta({ id: "MetricCollection" });
export type MetricCollection = z.infer<typeof MetricCollection>;

/** Flink's AggregatedMetricsResponseBody: one entry per metric asked for, with the aggregations asked for. */
export const AggregatedMetrics = z
  .array(z.object({ id: z.string(), min: z.number().optional(), max: z.number().optional(), avg: z.number().optional(), sum: z.number().optional() }))
  .meta({ id: "AggregatedMetrics" });
export type AggregatedMetrics = z.infer<typeof AggregatedMetrics>;

const AGGREGATIONS = ["min", "max", "avg", "sum"] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

/** `?get=a,b` (which metrics; none lists the available ones). */
export const MetricsQuery = z.object({
  get: z
    .string()
    .optional()
    .transform((v) =>
      v
        ? v
            .split(",")
            .map((s) => s.trim())
            .filter((s) => s.length > 0)
        : undefined,
    ),
});

/** `?get=a,b&agg=min,max,avg,sum` (aggregations case-insensitive, all by default, as in Flink). */
export const AggregatedMetricsQuery = MetricsQuery.extend({
  agg: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (!v) return [...AGGREGATIONS];
      const wanted = v.split(",").map((s) => s.trim().toLowerCase());
      const bad = wanted.filter((a) => !(AGGREGATIONS as readonly string[]).includes(a));
      if (bad.length > 0) {
        ctx.addIssue({ code: "custom", message: `unknown aggregation ${bad.join(", ")}; use min, max, avg or sum` });
        return z.NEVER;
      }
      return wanted as Aggregation[];
    }),
});
