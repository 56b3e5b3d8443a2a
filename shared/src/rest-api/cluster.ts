import { z } from "zod";
import { ExecutionState } from "./common.js";

/** GET /overview: Flink's ClusterOverviewWithVersion; `riffle-version` and `start-time` are Riffle's. */
export const ClusterOverview = z
  .object({
    taskmanagers: z.number().int(),
    "slots-total": z.number().int(),
    "slots-available": z.number().int(),
    /** Jobs that have not ended (Flink counts every non-terminal job as running). */
    "jobs-running": z.number().int(),
    "jobs-finished": z.number().int(),
    "jobs-cancelled": z.number().int(),
    "jobs-failed": z.number().int(),
    "riffle-version": z.string(),
    /** When this JobManager started (ms since the epoch): the cluster's uptime. */
    "start-time": z.number().int(),
  })
  .meta({ id: "ClusterOverview" });
export type ClusterOverview = z.infer<typeof ClusterOverview>;

export const ROLES = ["operator", "read-only"] as const;
/** What a caller may do: operators also submit, cancel, savepoint, stop and rescale. */
export const Role = z.enum(ROLES).meta({ id: "Role" });
export type Role = z.infer<typeof Role>;

/**
 * GET /config: Flink's DashboardConfiguration. `auth` is Riffle's: whether the API asks for
 * credentials, and the role the request's own credentials have (null: none, or none valid).
 */
export const DashboardConfiguration = z
  .object({
    "refresh-interval": z.number().int(),
    "timezone-name": z.string(),
    "timezone-offset": z.number().int(),
    "riffle-version": z.string(),
    features: z.object({ "web-submit": z.boolean(), "web-cancel": z.boolean(), "web-rescale": z.boolean(), "web-history": z.boolean() }),
    auth: z.object({ enabled: z.boolean(), role: Role.nullable(), anonymous: Role.nullable() }),
  })
  .meta({ id: "DashboardConfiguration" });
export type DashboardConfiguration = z.infer<typeof DashboardConfiguration>;

/** GET /jobmanager/config: Flink's list of `{key, value}`, every key of Riffle's configuration schema. */
export const ClusterConfiguration = z.array(z.object({ key: z.string(), value: z.string() })).meta({ id: "ClusterConfiguration" });
export type ClusterConfiguration = z.infer<typeof ClusterConfiguration>;

/** A JobManager as GET /jobmanager/ha names it. */
const JobManagerAddress = z.object({
  /** The JobManager's id in the election (unique per process). */
  id: z.string(),
  /** host:port of its gRPC server. */
  rpcAddress: z.string(),
  /** Base URL of its REST API. */
  restAddress: z.string(),
});

/**
 * GET /jobmanager/ha (Riffle's): high availability as this JobManager sees it. Served by standbys too,
 * so any JobManager of the cluster tells who leads.
 */
export const HighAvailabilityInfo = z
  .object({
    /** `high-availability.type`. */
    type: z.enum(["none", "etcd"]),
    clusterId: z.string(),
    /** `leader` once this JobManager leads and has recovered its jobs; `standby` otherwise. */
    role: z.enum(["leader", "standby"]),
    self: JobManagerAddress,
    /** Who leads, as published in etcd (this JobManager itself without high availability); null when no leader is known. */
    leader: JobManagerAddress.extend({
      /** The leadership's fencing token (`<election revision, 20 digits>-<lease id, 16 hex digits>`). */
      fencingToken: z.string().nullable(),
    }).nullable(),
    /** Ids of every JobManager campaigning, the leader first; null when the coordination service did not answer. */
    candidates: z.array(z.string()).nullable(),
    /** This JobManager's place in the election. */
    electionState: z.enum(["idle", "campaigning", "leading", "closed"]),
    /** The last failure of leader election or leader retrieval (e.g. etcd unreachable); null once it works. */
    error: z.string().nullable(),
    /** `high-availability.etcd.lease-ttl` in ms; null without etcd. */
    leaseTtlMs: z.number().int().nullable(),
    /** Time since this JobManager's lease was last renewed, in ms; null when it holds no lease. */
    msSinceLastKeepAlive: z.number().int().nullable(),
  })
  .meta({ id: "HighAvailabilityInfo" });
export type HighAvailabilityInfo = z.infer<typeof HighAvailabilityInfo>;

/** One TaskManager in GET /taskmanagers: Flink's TaskManagerInfo fields Riffle has, then Riffle's. */
export const TaskManagerInfo = z
  .object({
    id: z.string(),
    /** host:port of its gRPC server (control and data exchange). */
    path: z.string(),
    dataPort: z.number().int(),
    /** No JMX in Node: always -1, as Flink reports an unset port. */
    jmxPort: z.number().int(),
    timeSinceLastHeartbeat: z.number().int(),
    slotsNumber: z.number().int(),
    freeSlots: z.number().int(),
    /** Riffle's: host:port of its Prometheus endpoint. */
    metricsAddress: z.string(),
    pid: z.number().int(),
    /** When it registered (ms since the epoch). */
    registeredAt: z.number().int(),
  })
  .meta({ id: "TaskManagerInfo" });
export type TaskManagerInfo = z.infer<typeof TaskManagerInfo>;

export const TaskManagersInfo = z.object({ taskmanagers: z.array(TaskManagerInfo) }).meta({ id: "TaskManagersInfo" });
export type TaskManagersInfo = z.infer<typeof TaskManagersInfo>;

/** A task placed on a TaskManager (Riffle's; Flink shows tasks per vertex instead). */
export const TaskOnTaskManager = z.object({
  executionId: z.string(),
  jobId: z.string(),
  jobName: z.string(),
  vertexId: z.string(),
  vertexName: z.string(),
  subtask: z.number().int(),
  attempt: z.number().int(),
  status: ExecutionState,
});
export type TaskOnTaskManager = z.infer<typeof TaskOnTaskManager>;

/**
 * Measured on the TaskManager, read from its Prometheus endpoint when asked: Flink's
 * TaskManagerMetricsInfo names where Node has the same thing (heap, network memory segments), then
 * Riffle's (resident set size, event-loop lag). Null when its endpoint did not answer.
 */
export const TaskManagerMetricsInfo = z
  .object({
    heapUsed: z.number(),
    heapCommitted: z.number(),
    /** Resident set size of the process, in bytes. */
    rss: z.number(),
    /** Event-loop lag (prom-client's nodejs_eventloop_lag_seconds), in milliseconds. */
    eventLoopLagMs: z.number(),
    nettyShuffleMemorySegmentsTotal: z.number(),
    nettyShuffleMemorySegmentsAvailable: z.number(),
    nettyShuffleMemorySegmentsUsed: z.number(),
  })
  .meta({ id: "TaskManagerMetricsInfo" });
export type TaskManagerMetricsInfo = z.infer<typeof TaskManagerMetricsInfo>;

/** GET /taskmanagers/:id: Flink's TaskManagerDetailsInfo (its info, allocated slots and metrics) and its tasks. */
export const TaskManagerDetailsInfo = TaskManagerInfo.extend({
  allocatedSlots: z.array(z.object({ index: z.number().int(), jobId: z.string() })),
  metrics: TaskManagerMetricsInfo.nullable(),
  /** Why `metrics` is null. */
  metricsError: z.string().optional(),
  tasks: z.array(TaskOnTaskManager),
}).meta({ id: "TaskManagerDetailsInfo" });
export type TaskManagerDetailsInfo = z.infer<typeof TaskManagerDetailsInfo>;
