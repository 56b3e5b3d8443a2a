import { z } from "zod";
import { EXECUTION_STATES, ExecutionState, JOB_STATUSES, JobStatus } from "./common.js";

/** GET /jobs: Flink's JobIdsWithStatusOverview. */
export const JobIdsWithStatus = z.object({ jobs: z.array(z.object({ id: z.string(), status: JobStatus })) }).meta({ id: "JobIdsWithStatusOverview" });
export type JobIdsWithStatus = z.infer<typeof JobIdsWithStatus>;

/** Flink's lower-case task counts of /jobs/overview: subtasks of the job's current attempt by state. */
export const TaskCounts = z.object({
  total: z.number().int(),
  created: z.number().int(),
  scheduled: z.number().int(),
  deploying: z.number().int(),
  running: z.number().int(),
  finished: z.number().int(),
  canceling: z.number().int(),
  canceled: z.number().int(),
  failed: z.number().int(),
  reconciling: z.number().int(),
  initializing: z.number().int(),
});
export type TaskCounts = z.infer<typeof TaskCounts>;

/** Records per second of a job, measured at the JobManager (Riffle's). */
export const Throughput = z.object({
  /** Records the job's sources emit per second (into their chains, whether they then cross the network or not). */
  numRecordsOutPerSecond: z.number(),
  /** Records the job's sinks (vertices without outputs) receive per second; a sink chained to its source receives what the source emits. */
  numRecordsInPerSecond: z.number(),
});
export type Throughput = z.infer<typeof Throughput>;

/** One job of GET /jobs/overview (Flink's JobDetails); `parallelism` and `metrics` are Riffle's. */
export const JobOverview = z
  .object({
    jid: z.string(),
    name: z.string(),
    state: JobStatus,
    "start-time": z.number().int(),
    /** -1 while the job has not ended. */
    "end-time": z.number().int(),
    duration: z.number().int(),
    "last-modification": z.number().int(),
    tasks: TaskCounts,
    /** The widest vertex's parallelism. */
    parallelism: z.number().int(),
    metrics: Throughput,
  })
  .meta({ id: "JobOverview" });
export type JobOverview = z.infer<typeof JobOverview>;

export const MultipleJobsDetails = z.object({ jobs: z.array(JobOverview) }).meta({ id: "MultipleJobsDetails" });
export type MultipleJobsDetails = z.infer<typeof MultipleJobsDetails>;

/**
 * Flink's IOMetricsInfo: record and byte counters summed over subtasks (`-complete`: every subtask
 * reported). Bytes count only what crossed the network: records between tasks of one TaskManager are
 * passed by reference. Then Riffle's rates, measured by the JobManager over its history of the
 * TaskManagers' reports: records per second (summed over running subtasks) and busy/idle/back-pressured
 * milliseconds per second (the highest subtask). Flink's
 * `accumulated-*-time` totals are not given: TaskManagers report these times as rates.
 */
export const IOMetrics = z
  .object({
    "read-bytes": z.number(),
    "read-bytes-complete": z.boolean(),
    "write-bytes": z.number(),
    "write-bytes-complete": z.boolean(),
    "read-records": z.number(),
    "read-records-complete": z.boolean(),
    "write-records": z.number(),
    "write-records-complete": z.boolean(),
    numRecordsInPerSecond: z.number(),
    numRecordsOutPerSecond: z.number(),
    busyTimeMsPerSecond: z.number(),
    idleTimeMsPerSecond: z.number(),
    backPressuredTimeMsPerSecond: z.number(),
  })
  .meta({ id: "IOMetrics" });
export type IOMetrics = z.infer<typeof IOMetrics>;

const upperCounts = Object.fromEntries(EXECUTION_STATES.map((s) => [s, z.number().int()])) as Record<(typeof EXECUTION_STATES)[number], z.ZodNumber>;

/** A vertex in GET /jobs/:id (Flink's JobVertexDetailsInfo of the job details). */
export const JobVertexSummary = z
  .object({
    id: z.string(),
    name: z.string(),
    maxParallelism: z.number().int(),
    parallelism: z.number().int(),
    status: ExecutionState,
    "start-time": z.number().int(),
    "end-time": z.number().int(),
    duration: z.number().int(),
    /** Subtasks by state, upper-case as in Flink. */
    tasks: z.object(upperCounts),
    metrics: IOMetrics,
  })
  .meta({ id: "JobVertexSummary" });
export type JobVertexSummary = z.infer<typeof JobVertexSummary>;

/** GET /jobs/:id/plan: Flink's JobPlanInfo. `operators` (the chain, head first) is Riffle's. */
export const JobPlan = z
  .object({
    jid: z.string(),
    name: z.string(),
    type: z.literal("STREAMING"),
    nodes: z.array(
      z.object({
        id: z.string(),
        parallelism: z.number().int(),
        /** The chained operators' names joined by " -> ", as Flink shows a chain. */
        operator: z.string(),
        description: z.string(),
        /** Edges into the vertex: the producing vertex and how records are partitioned (FORWARD, HASH, REBALANCE, ...). */
        inputs: z.array(z.object({ num: z.number().int(), id: z.string(), ship_strategy: z.string(), exchange: z.string() })),
        operators: z.array(z.object({ name: z.string(), uid: z.string(), kind: z.string() })),
      }),
    ),
  })
  .meta({ id: "JobPlan" });
export type JobPlan = z.infer<typeof JobPlan>;

export const JobPlanInfo = z.object({ plan: JobPlan }).meta({ id: "JobPlanInfo" });
export type JobPlanInfo = z.infer<typeof JobPlanInfo>;

const statusTimestamps = Object.fromEntries(JOB_STATUSES.map((s) => [s, z.number().int()])) as Record<(typeof JOB_STATUSES)[number], z.ZodNumber>;

/** A failure as Riffle reports it: a stable error code and a message. */
export const Failure = z.object({ code: z.string(), message: z.string() }).meta({ id: "Failure" });
export type Failure = z.infer<typeof Failure>;

/**
 * GET /jobs/:id: Flink's JobDetailsInfo. Riffle adds `numRestarts`, the savepoint the job started
 * from, and why it failed.
 */
export const JobDetails = z
  .object({
    jid: z.string(),
    name: z.string(),
    /** Whether the job can be stopped with a savepoint (a running streaming job can). */
    isStoppable: z.boolean(),
    state: JobStatus,
    "job-type": z.literal("STREAMING"),
    "start-time": z.number().int(),
    "end-time": z.number().int(),
    duration: z.number().int(),
    maxParallelism: z.number().int(),
    now: z.number().int(),
    /** When the job last entered each status (0: never), as in Flink. */
    timestamps: z.object(statusTimestamps),
    vertices: z.array(JobVertexSummary),
    "status-counts": z.object(upperCounts),
    plan: JobPlan,
    numRestarts: z.number().int(),
    savepoint: z.object({ path: z.string(), checkpointId: z.number().int(), allowNonRestoredState: z.boolean() }).optional(),
    failure: Failure.optional(),
  })
  .meta({ id: "JobDetails" });
export type JobDetails = z.infer<typeof JobDetails>;

/** One subtask in GET /jobs/:id/vertices/:vid: Flink's SubtaskExecutionAttemptDetailsInfo. */
export const SubtaskDetails = z
  .object({
    subtask: z.number().int(),
    status: ExecutionState,
    attempt: z.number().int(),
    /** host:port of the TaskManager running it. */
    endpoint: z.string(),
    "start-time": z.number().int(),
    "end-time": z.number().int(),
    duration: z.number().int(),
    metrics: IOMetrics,
    "taskmanager-id": z.string(),
  })
  .meta({ id: "SubtaskDetails" });
export type SubtaskDetails = z.infer<typeof SubtaskDetails>;

/** GET /jobs/:id/vertices/:vid: Flink's JobVertexDetailsInfo. */
export const JobVertexDetails = z
  .object({
    id: z.string(),
    name: z.string(),
    parallelism: z.number().int(),
    maxParallelism: z.number().int(),
    now: z.number().int(),
    subtasks: z.array(SubtaskDetails),
  })
  .meta({ id: "JobVertexDetails" });
export type JobVertexDetails = z.infer<typeof JobVertexDetails>;

/**
 * GET /jobs/:id/exceptions: Flink's JobExceptionsInfoWithHistory. Riffle has no Java stack traces:
 * `exceptionName` is the error code and `stacktrace` the message.
 */
export const JobExceptions = z
  .object({
    "root-exception": z.string().nullable(),
    timestamp: z.number().int().nullable(),
    "all-exceptions": z.array(z.never()),
    truncated: z.boolean(),
    exceptionHistory: z.object({
      entries: z.array(
        z.object({
          exceptionName: z.string(),
          stacktrace: z.string(),
          timestamp: z.number().int(),
          taskName: z.string().nullable(),
          endpoint: z.string().nullable(),
          taskManagerId: z.string().nullable(),
          failureLabels: z.record(z.string(), z.string()),
          concurrentExceptions: z.array(z.never()),
        }),
      ),
      truncated: z.boolean(),
    }),
  })
  .meta({ id: "JobExceptions" });
export type JobExceptions = z.infer<typeof JobExceptions>;

/**
 * POST /jobs (Riffle's: Flink's takes a serialized JobGraph and jars): an esbuild bundle of the job
 * module, base64-encoded, as `riffle run` makes it; or the job module itself, which the JobManager
 * bundles (imports other than `@riffle/*` and npm packages the cluster has cannot be resolved).
 */
export const SubmitJobRequest = z
  .object({
    bundle: z.base64().min(1, "the job bundle is empty").optional(),
    /** Instead of `bundle`: a job module (TypeScript or JavaScript) the JobManager bundles, as uploaded by the dashboard. */
    jobFile: z.object({ name: z.string().min(1, "jobFile.name is empty"), content: z.string() }).optional(),
    name: z.string().optional(),
    parallelism: z.number().int().min(1).max(32768).optional(),
    args: z.array(z.string()).optional(),
    /** Directory of a savepoint (or retained checkpoint) to start from. */
    savepointPath: z.string().min(1, "savepointPath is empty").optional(),
    /** Start even if the savepoint has state of operators (by uid) the job lacks; that state is dropped. */
    allowNonRestoredState: z.boolean().optional(),
  })
  .refine((r) => (r.bundle === undefined) !== (r.jobFile === undefined), {
    message: "send the job either as `bundle` (a base64 esbuild bundle, as riffle run makes it) or as `jobFile` ({name, content}: a job module to bundle)",
  })
  .meta({ id: "SubmitJobRequest" });
export type SubmitJobRequest = z.input<typeof SubmitJobRequest>;

/** The submitted job's id (Flink's JarRunResponseBody `jobid`) and its URL (Flink's JobSubmitResponseBody `jobUrl`). */
export const SubmitJobResponse = z.object({ jobid: z.string(), jobUrl: z.string() }).meta({ id: "SubmitJobResponse" });
export type SubmitJobResponse = z.infer<typeof SubmitJobResponse>;

/** POST /jobs/:id/savepoints: Flink's SavepointTriggerRequestBody. */
export const SavepointTriggerRequest = z
  .object({
    "target-directory": z.string().min(1, "target-directory is empty").optional(),
    "cancel-job": z.boolean().optional(),
  })
  .meta({ id: "SavepointTriggerRequest" });
export type SavepointTriggerRequest = z.input<typeof SavepointTriggerRequest>;

/** POST /jobs/:id/stop: Flink's StopWithSavepointRequestBody. */
export const StopWithSavepointRequest = z
  .object({
    targetDirectory: z.string().min(1, "targetDirectory is empty").optional(),
    drain: z.boolean().optional(),
  })
  .meta({ id: "StopWithSavepointRequest" });
export type StopWithSavepointRequest = z.input<typeof StopWithSavepointRequest>;

export const RescaleQuery = z.object({
  parallelism: z.coerce.number({ error: "parallelism must be a number" }).int("parallelism must be an integer").min(1, "parallelism must be at least 1"),
});

export const CancelQuery = z.object({
  mode: z.literal("cancel", { error: 'mode must be "cancel" (PATCH /jobs/:id?mode=cancel)' }),
});

/** Flink's TriggerResponse. */
export const TriggerResponse = z.object({ "request-id": z.string() }).meta({ id: "TriggerResponse" });
export type TriggerResponse = z.infer<typeof TriggerResponse>;

/**
 * A savepoint, stop or rescale, as Flink's AsynchronousOperationResult: IN_PROGRESS, or COMPLETED with
 * the savepoint's location or the failure's cause (`class`: Riffle's error code, `stack-trace`: its
 * message).
 */
export const OperationResult = z
  .object({
    status: z.object({ id: z.enum(["IN_PROGRESS", "COMPLETED"]) }),
    operation: z
      .union([z.object({ location: z.string() }), z.object({ "failure-cause": z.object({ class: z.string(), "stack-trace": z.string() }) })])
      .optional(),
  })
  .meta({ id: "OperationResult" });
export type OperationResult = z.infer<typeof OperationResult>;

export const ResultsQuery = z.object({ cursor: z.coerce.number().int().min(0).default(0) });

/** GET /jobs/:id/results (Riffle's): records of the job's collect sinks after `cursor`. */
export const ResultsPage = z
  .object({
    records: z.array(z.unknown()),
    nextCursor: z.number().int(),
    /** True once the job reached a terminal status and every record was handed out. */
    finished: z.boolean(),
    state: JobStatus,
  })
  .meta({ id: "ResultsPage" });
export type ResultsPage = z.infer<typeof ResultsPage>;

/** GET /jobs/:id/vertices/:vid/backpressure: Flink's JobVertexBackPressureInfo, from the subtasks' measured times. */
export const BackPressureLevel = z.enum(["ok", "low", "high"]);
export type BackPressureLevel = z.infer<typeof BackPressureLevel>;

/**
 * As Flink's: `status` "ok" when some subtask of the vertex's current attempt has reported its times,
 * "deprecated" (Flink's word for stats not available) before any has — right after a deployment or a
 * rescale — and then there is no level and no timestamp. Only measured subtasks are listed, and the
 * vertex's level is the highest of theirs: a client that needs the whole vertex measured compares
 * `subtasks` with the vertex's parallelism. A subtask that ended waits for nothing (ratio 0).
 */
export const JobVertexBackPressure = z
  .object({
    status: z.enum(["ok", "deprecated"]),
    "backpressure-level": BackPressureLevel.optional(),
    /** When the newest of the subtasks' reports arrived (ms since the epoch). */
    "end-timestamp": z.number().int().optional(),
    subtasks: z.array(
      z.object({
        subtask: z.number().int(),
        attemptNumber: z.number().int(),
        "backpressure-level": BackPressureLevel,
        ratio: z.number(),
        idleRatio: z.number(),
        busyRatio: z.number(),
      }),
    ),
  })
  .meta({ id: "JobVertexBackPressure" });
export type JobVertexBackPressure = z.infer<typeof JobVertexBackPressure>;

/** GET /jobs/:id/metrics/history (Riffle's): `since` in ms since the epoch; only later points are sent. */
export const MetricsHistoryQuery = z.object({ since: z.coerce.number().int().min(0).default(0) });

/**
 * GET /jobs/:id/metrics/history (Riffle's): each vertex's rates over the JobManager's history window
 * (`jobmanager.metrics.history`), one point per heartbeat interval: records per second summed over
 * subtasks, busy/idle/back-pressured ms per second of the highest subtask.
 */
export const JobMetricsHistory = z
  .object({
    /** Milliseconds between points. */
    step: z.number().int(),
    /** Time of the newest point, to pass as `since` next time (0 without any). */
    until: z.number().int(),
    vertices: z.record(
      z.string(),
      z.array(
        z.object({
          t: z.number().int(),
          numRecordsInPerSecond: z.number(),
          numRecordsOutPerSecond: z.number(),
          /** What the vertex's source emits into its chain, networked or not (0 without a source). */
          sourceNumRecordsOutPerSecond: z.number(),
          busyTimeMsPerSecond: z.number(),
          idleTimeMsPerSecond: z.number(),
          backPressuredTimeMsPerSecond: z.number(),
        }),
      ),
    ),
  })
  .meta({ id: "JobMetricsHistory" });
export type JobMetricsHistory = z.infer<typeof JobMetricsHistory>;
