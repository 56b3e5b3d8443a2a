/**
 * The messages of proto/riffle/v1 as @grpc/proto-loader delivers them (camelCase fields, int64 as
 * number, bytes as Buffer, every field present with its default, `kind` naming the set oneof field).
 * The shapes are generated from the .proto files (`npm run proto:types`, into ./generated/; a test
 * checks they are current): this file only names them, and narrows the few string fields whose values
 * the protos document as a closed set (task states, buffer types) and the oneofs into unions.
 */
import type { AcknowledgeCheckpointRequest__Output } from "./generated/riffle/v1/AcknowledgeCheckpointRequest.js";
import type { AddCredit__Output } from "./generated/riffle/v1/AddCredit.js";
import type { BufferResponse__Output } from "./generated/riffle/v1/BufferResponse.js";
import type { CancelTaskRequest__Output } from "./generated/riffle/v1/CancelTaskRequest.js";
import type { ChannelDeployment__Output } from "./generated/riffle/v1/ChannelDeployment.js";
import type { CheckpointNotification__Output } from "./generated/riffle/v1/CheckpointNotification.js";
import type { CollectBatch__Output } from "./generated/riffle/v1/CollectBatch.js";
import type { DeclineCheckpointRequest__Output } from "./generated/riffle/v1/DeclineCheckpointRequest.js";
import type { ExchangeError__Output } from "./generated/riffle/v1/ExchangeError.js";
import type { GetBundleRequest__Output } from "./generated/riffle/v1/GetBundleRequest.js";
import type { GetBundleResponse__Output } from "./generated/riffle/v1/GetBundleResponse.js";
import type { GetJobRequest__Output } from "./generated/riffle/v1/GetJobRequest.js";
import type { InputGateDeployment__Output } from "./generated/riffle/v1/InputGateDeployment.js";
import type { JobManagerHeartbeat__Output } from "./generated/riffle/v1/JobManagerHeartbeat.js";
import type { JobSummary__Output } from "./generated/riffle/v1/JobSummary.js";
import type { OperatorEventRequest__Output } from "./generated/riffle/v1/OperatorEventRequest.js";
import type { ListJobsResponse__Output } from "./generated/riffle/v1/ListJobsResponse.js";
import type { LocateRequest__Output } from "./generated/riffle/v1/LocateRequest.js";
import type { LocateResponse__Output } from "./generated/riffle/v1/LocateResponse.js";
import type { PartitionRequest__Output } from "./generated/riffle/v1/PartitionRequest.js";
import type { RegisterTaskManagerRequest__Output } from "./generated/riffle/v1/RegisterTaskManagerRequest.js";
import type { RegisterTaskManagerResponse__Output } from "./generated/riffle/v1/RegisterTaskManagerResponse.js";
import type { ResultBatch__Output } from "./generated/riffle/v1/ResultBatch.js";
import type { ResultPartitionDeployment__Output } from "./generated/riffle/v1/ResultPartitionDeployment.js";
import type { SubmitJobRequest__Output } from "./generated/riffle/v1/SubmitJobRequest.js";
import type { SubmitJobResponse__Output } from "./generated/riffle/v1/SubmitJobResponse.js";
import type { TaskDeploymentDescriptor__Output } from "./generated/riffle/v1/TaskDeploymentDescriptor.js";
import type { TaskExecutionState__Output } from "./generated/riffle/v1/TaskExecutionState.js";
import type { TaskManagerHeartbeat__Output } from "./generated/riffle/v1/TaskManagerHeartbeat.js";
import type { TaskMetricsReport__Output } from "./generated/riffle/v1/TaskMetricsReport.js";
import type { TriggerCheckpointRequest__Output } from "./generated/riffle/v1/TriggerCheckpointRequest.js";

export type Ack = Record<string, never>;

// client.proto
export type SubmitJobRequest = SubmitJobRequest__Output;
export type SubmitJobResponse = SubmitJobResponse__Output;
export type JobSummary = JobSummary__Output;
export type ListJobsResponse = ListJobsResponse__Output;
/** GetJobRequest, CancelJobRequest and StreamResultsRequest: a job id each. */
export type JobIdRequest = GetJobRequest__Output;
export type ResultBatch = ResultBatch__Output;

// jobmanager.proto
export type RegisterTaskManagerRequest = RegisterTaskManagerRequest__Output;
export type RegisterTaskManagerResponse = RegisterTaskManagerResponse__Output;
export type TaskMetricsReport = TaskMetricsReport__Output;
export type TaskManagerHeartbeat = TaskManagerHeartbeat__Output;
export type JobManagerHeartbeat = JobManagerHeartbeat__Output;
/** The task states a TaskManager reports (the proto's documented values). */
export type ExecutionState = "DEPLOYING" | "RUNNING" | "FINISHED" | "CANCELED" | "FAILED";
export type TaskExecutionState = Omit<TaskExecutionState__Output, "state" | "metrics"> & {
  state: ExecutionState;
  /** Final counters, with a terminal state; null when absent. */
  metrics?: TaskMetricsReport | null;
};
export type GetBundleRequest = GetBundleRequest__Output;
export type GetBundleResponse = GetBundleResponse__Output;
export type CollectBatch = CollectBatch__Output;
export type AcknowledgeCheckpointRequest = AcknowledgeCheckpointRequest__Output;
export type DeclineCheckpointRequest = DeclineCheckpointRequest__Output;

// taskmanager.proto
export type ChannelDeployment = ChannelDeployment__Output;
export type InputGateDeployment = InputGateDeployment__Output;
export type ResultPartitionDeployment = ResultPartitionDeployment__Output;
export type TaskDeploymentDescriptor = TaskDeploymentDescriptor__Output;
export type TriggerCheckpointRequest = TriggerCheckpointRequest__Output;
export type CheckpointNotification = CheckpointNotification__Output;
export type CancelTaskRequest = CancelTaskRequest__Output;
/** An event between a source reader (the execution) and its coordinator in the JobManager, either way (JSON of an OperatorEvent of @riffle/sdk/internal). */
export type OperatorEventRequest = OperatorEventRequest__Output;
/** A JobManager→TaskManager command as the scheduler and the coordinator build it: the gateway adds the leader's fencing token. */
export type Unfenced<T extends { fencingToken: string }> = Omit<T, "fencingToken">;

// exchange.proto
export type PartitionRequest = PartitionRequest__Output;
export type AddCredit = AddCredit__Output;
export type ExchangeRequest =
  | { kind?: "partitionRequest"; partitionRequest: PartitionRequest; addCredit?: AddCredit | null }
  | { kind?: "addCredit"; addCredit: AddCredit; partitionRequest?: PartitionRequest | null };
/** The buffer types of BufferResponse (the proto's documented values). */
export type BufferType = "DATA" | "END_OF_PARTITION" | "CHECKPOINT_BARRIER" | "WATERMARK" | "WATERMARK_STATUS";
/** `moreData`: further DATA buffers carried by the same message (absent or empty when there are none). */
export type BufferResponse = Omit<BufferResponse__Output, "type" | "data" | "moreData"> & { type: BufferType; data: Uint8Array; moreData?: Uint8Array[] };
export type ExchangeError = ExchangeError__Output;
export type LocateRequest = LocateRequest__Output;
export type LocateResponse = LocateResponse__Output;
export type ExchangeResponse =
  | { kind?: "buffer"; buffer: BufferResponse; error?: ExchangeError | null }
  | { kind?: "error"; error: ExchangeError; buffer?: BufferResponse | null };
