import type { MessagePort } from "node:worker_threads";
import type {
  AcknowledgeCheckpointRequest,
  ChannelDeployment,
  DeclineCheckpointRequest,
  ExecutionState,
  TaskDeploymentDescriptor,
  TaskMetricsReport,
  TriggerCheckpointRequest,
} from "@riffle/shared";
import type { OperatorEvent } from "@riffle/sdk/internal";
import type { MetricObjectWithValues, MetricValue } from "prom-client";

/**
 * The messages between a TaskManager's main thread and a slot's worker thread (decision record 0006).
 * Control travels on the worker's parentPort; data travels on ports of its own (one per channel
 * between slots of this TaskManager) or on the slot's data server (from other TaskManagers).
 */

/** What a worker is started with (`workerData`). */
export interface SlotWorkerData {
  taskmanagerId: string;
  /** The interface the TaskManager serves on (taskmanager.host): the slot's data server binds to it too. */
  host: string;
  slotIndex: number;
  /** This slot's share of the TaskManager's network memory. */
  segments: number;
  segmentSize: number;
  network: {
    exclusiveBuffersPerChannel: number;
    floatingBuffersPerGate: number;
    maxBuffersPerSubpartition: number;
    partitionRequestTimeoutMs: number;
  };
  /** Where the bundle files are (a directory of the TaskManager's work directory). */
  bundleDir: string;
  /** Where tasks keep their local state (LevelDB), one directory per execution. */
  stateDir: string;
  /** `activity[0]`: the task number of the task running now, or -1 (written by the worker). */
  activity: SharedArrayBuffer;
  /** Default state backend of jobs that choose none. */
  stateBackend: "memory" | "leveldb";
  /** Time between metric snapshots. */
  snapshotIntervalMs: number;
}

export type ToWorker =
  | { type: "deploy"; tdd: TaskDeploymentDescriptor; taskNumber: number }
  | { type: "cancel"; executionId: string; jobId: string }
  | { type: "trigger-checkpoint"; id: number; request: TriggerCheckpointRequest }
  | { type: "checkpoint-complete" | "checkpoint-aborted"; executionId: string; checkpointId: number }
  /** An event of a source's coordinator for the task's reader; answered by a reply once it is in the task's mailbox. */
  | { type: "operator-event"; id: number; executionId: string; event: OperatorEvent }
  /** A stream reading one of this slot's partitions, from another slot of this TaskManager. */
  | { type: "serve"; port: MessagePort }
  /** A metrics snapshot now (a scrape of /metrics), without advancing the per-second meters. */
  | { type: "snapshot-request" }
  | { type: "reply"; id: number; error?: { code: string; message: string } };

export type FromWorker =
  /** `dataPort`: where the slot serves its partitions to other TaskManagers (on `host`). */
  | { type: "ready"; dataPort: number }
  | {
      type: "task-state";
      executionId: string;
      jobId: string;
      state: ExecutionState;
      errorCode: string;
      errorMessage: string;
      metrics: TaskMetricsReport | null;
    }
  | { type: "ack"; ack: AcknowledgeCheckpointRequest }
  | { type: "decline"; decline: DeclineCheckpointRequest }
  /** Records of a collect sink for the client; answered by a reply once the JobManager took them. */
  | { type: "collect"; id: number; jobId: string; executionId: string; subtaskIndex: number; sequence: number; records: Uint8Array }
  /** An event of a task's source reader for its coordinator in the JobManager; answered by a reply once the JobManager took it. */
  | { type: "operator-event"; id: number; jobId: string; executionId: string; event: OperatorEvent }
  /** The bundle must be on disk before the worker imports it; answered by a reply. */
  | { type: "bundle"; id: number; hash: string }
  /** A channel of this slot reads a partition elsewhere: `port` is the producer's end of its stream. */
  | { type: "open-channel"; port: MessagePort; channel: ChannelDeployment; consumer: string }
  | { type: "snapshot"; snapshot: SlotSnapshot }
  /** The answer to a trigger-checkpoint. */
  | { type: "reply"; id: number; error?: { code: string; message: string } };

/** A task's numbers as the main thread reports them: `report` in heartbeats, all of them on /metrics. */
export interface TaskSnapshot {
  report: TaskMetricsReport;
  taskName: string;
  recordsInPerSecond: number;
  recordsOutPerSecond: number;
  numLateRecordsDropped: number;
  inputQueueLength: number;
  /** Bytes of output frames waiting for segments. */
  outputSpilledBytes: number;
}

/** What a worker reports every second, and when the main thread asks. */
export interface SlotSnapshot {
  tasks: TaskSnapshot[];
  segmentsTotal: number;
  segmentsAvailable: number;
  /** The worker's JavaScript heap: in use, and committed (its current size). */
  heapUsedBytes: number;
  heapTotalBytes: number;
  heapLimitBytes: number;
  /** The user metrics of the slot's tasks (prom-client's JSON form). */
  userMetrics: MetricObjectWithValues<MetricValue<string>>[];
}
