/**
 * TypeScript shapes of the messages in proto/riffle/v1 as @grpc/proto-loader delivers them
 * (camelCase fields, int64 as number, bytes as Buffer, `kind` naming the set oneof field).
 * Keep in step with the .proto files: they are the contract, these are its local reading.
 */

export type Ack = Record<string, never>;

// client.proto
export interface SubmitJobRequest {
  bundle: Buffer;
  name: string;
  parallelism: number;
  args: string[];
  /** Savepoint directory to start from; empty (or absent from older clients) for a fresh start. */
  savepointPath?: string;
  allowNonRestoredState?: boolean;
}
export interface SubmitJobResponse {
  jobId: string;
}
export interface JobSummary {
  jobId: string;
  name: string;
  status: string;
  startTime: number;
  endTime: number;
  failureCode: string;
  failureMessage: string;
}
export interface ListJobsResponse {
  jobs: JobSummary[];
}
export interface JobIdRequest {
  jobId: string;
}
export interface ResultBatch {
  records: Buffer;
}

// jobmanager.proto
export interface RegisterTaskManagerRequest {
  taskmanagerId: string;
  address: string;
  slots: number;
  metricsAddress: string;
  pid: number;
}
export interface RegisterTaskManagerResponse {
  registrationId: string;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
}
export interface TaskMetricsReport {
  executionId: string;
  jobId: string;
  vertexId: string;
  subtaskIndex: number;
  recordsIn: number;
  recordsOut: number;
  /** Bytes of record frames read from network segments (every input channel). */
  bytesIn: number;
  /** Bytes of record frames written into network segments (every output channel). */
  bytesOut: number;
  busyMsPerSecond: number;
  idleMsPerSecond: number;
  backPressuredMsPerSecond: number;
  /** Event time the task's inputs reached (MIN_WATERMARK, -(2^53-1), before any watermark; sources have none). */
  currentInputWatermark: number;
  /**
   * The last watermark the task's last operators emitted, lowest over its network outputs and the
   * operators ending its chain, such as a sink (MIN_WATERMARK before any).
   */
  currentOutputWatermark: number;
  /** Fraction (0..1) of the segments the task's outputs may hold that they hold. */
  outPoolUsage: number;
  /** Fraction (0..1) of the buffers the task's input channels may hold that they hold. */
  inPoolUsage: number;
}
export interface TaskManagerHeartbeat {
  taskmanagerId: string;
  registrationId: string;
  tasks: TaskMetricsReport[];
}
export interface JobManagerHeartbeat {
  executionIds: string[];
}
export type ExecutionState = "DEPLOYING" | "RUNNING" | "FINISHED" | "CANCELED" | "FAILED";
export interface TaskExecutionState {
  taskmanagerId: string;
  executionId: string;
  jobId: string;
  state: ExecutionState;
  errorCode: string;
  errorMessage: string;
  /** Final counters, with a terminal state; null when absent. */
  metrics?: TaskMetricsReport | null;
}
export interface GetBundleRequest {
  bundleHash: string;
}
export interface GetBundleResponse {
  bundle: Buffer;
}
export interface CollectBatch {
  jobId: string;
  executionId: string;
  subtaskIndex: number;
  sequence: number;
  records: Buffer;
}
export interface AcknowledgeCheckpointRequest {
  jobId: string;
  executionId: string;
  checkpointId: number;
  /** JSON of TaskStateSnapshot. */
  stateJson: string;
  stateSize: number;
  syncDurationMs: number;
  asyncDurationMs: number;
  alignmentDurationMs: number;
}
export interface DeclineCheckpointRequest {
  jobId: string;
  executionId: string;
  checkpointId: number;
  errorCode: string;
  errorMessage: string;
}

// taskmanager.proto
export interface ChannelDeployment {
  partitionId: string;
  producerSubtask: number;
  taskmanagerId: string;
  address: string;
  subpartition: number;
  /** The producer's slot on its TaskManager. */
  slotIndex: number;
}
export interface InputGateDeployment {
  gateIndex: number;
  producerVertexId: string;
  channels: ChannelDeployment[];
}
export interface ResultPartitionDeployment {
  partitionId: string;
  consumerVertexId: string;
  numSubpartitions: number;
  partitioner: string;
  keySelector: number;
  maxParallelism: number;
  edgeIndex: number;
}
export interface TaskDeploymentDescriptor {
  jobId: string;
  jobName: string;
  executionId: string;
  bundleHash: string;
  vertexId: string;
  subtaskIndex: number;
  parallelism: number;
  maxParallelism: number;
  vertexJson: string;
  inputGates: InputGateDeployment[];
  partitions: ResultPartitionDeployment[];
  jobConfigJson: string;
  /** JSON of TaskRestore; empty for a fresh start. */
  restoreJson: string;
  attempt: number;
  /** The slot (worker thread) of the TaskManager this execution runs in. */
  slotIndex: number;
}
export interface TriggerCheckpointRequest {
  jobId: string;
  executionId: string;
  checkpointId: number;
  timestamp: number;
  isSavepoint: boolean;
  targetDir: string;
}
export interface CheckpointNotification {
  jobId: string;
  executionId: string;
  checkpointId: number;
}
export interface CancelTaskRequest {
  executionId: string;
  jobId: string;
}
/** An event between a source reader (the execution) and its coordinator in the JobManager, either way. */
export interface OperatorEventRequest {
  jobId: string;
  executionId: string;
  /** JSON of the OperatorEvent (@riffle/sdk/internal). */
  eventJson: string;
}

// exchange.proto
export interface PartitionRequest {
  partitionId: string;
  subpartition: number;
  initialCredit: number;
  consumer: string;
}
export interface AddCredit {
  credit: number;
}
export type ExchangeRequest =
  | { kind?: "partitionRequest"; partitionRequest: PartitionRequest; addCredit?: undefined }
  | { kind?: "addCredit"; addCredit: AddCredit; partitionRequest?: undefined };
export type BufferType = "DATA" | "END_OF_PARTITION" | "CHECKPOINT_BARRIER" | "WATERMARK" | "WATERMARK_STATUS";
export interface BufferResponse {
  sequence: number;
  backlog: number;
  type: BufferType;
  data: Uint8Array;
}
export interface ExchangeError {
  code: string;
  message: string;
}
export type ExchangeResponse = { kind?: "buffer"; buffer: BufferResponse; error?: undefined } | { kind?: "error"; error: ExchangeError; buffer?: undefined };
