/**
 * Typed errors with a stable code. Every error that crosses a process boundary (REST, gRPC, CLI exit)
 * is a RiffleError or is normalised into one by {@link toRiffleError}.
 */

/** Where the fault lies: the user's job or input, something outside Riffle, or Riffle itself. */
export type ErrorDomain = "user" | "external" | "internal";

export const ErrorCodes = {
  // Job bundles and planning
  JOB_NO_DEFAULT_EXPORT: { domain: "user", status: 400, retry: false },
  JOB_PLAN_FAILED: { domain: "user", status: 400, retry: false },
  JOB_PLAN_TIMEOUT: { domain: "user", status: 400, retry: false },
  JOB_INVALID_GRAPH: { domain: "user", status: 400, retry: false },
  JOB_GRAPH_CYCLE: { domain: "user", status: 400, retry: false },
  PARALLELISM_ABOVE_MAX: { domain: "user", status: 400, retry: false },
  BUNDLE_INVALID: { domain: "user", status: 400, retry: false },
  BUNDLE_NOT_FOUND: { domain: "internal", status: 404, retry: false },
  // Requests
  BAD_REQUEST: { domain: "user", status: 400, retry: false },
  JOB_NOT_FOUND: { domain: "user", status: 404, retry: false },
  TASKMANAGER_NOT_FOUND: { domain: "user", status: 404, retry: false },
  NOT_FOUND: { domain: "user", status: 404, retry: false },
  UNAUTHORIZED: { domain: "user", status: 401, retry: false },
  FORBIDDEN: { domain: "user", status: 403, retry: false },
  JOB_NOT_RUNNING: { domain: "user", status: 409, retry: false },
  // Configuration and processes
  CONFIG_INVALID: { domain: "user", status: 400, retry: false },
  PORT_IN_USE: { domain: "external", status: 500, retry: false },
  JOBMANAGER_UNREACHABLE: { domain: "external", status: 503, retry: true },
  FILE_NOT_FOUND: { domain: "user", status: 400, retry: false },
  CLUSTER_ALREADY_RUNNING: { domain: "user", status: 409, retry: false },
  TIMEOUT: { domain: "external", status: 504, retry: true },
  WORKDIR_FAILED: { domain: "external", status: 500, retry: false },
  // Scheduling and execution
  NO_RESOURCE_AVAILABLE: { domain: "external", status: 503, retry: true },
  TASKMANAGER_LOST: { domain: "external", status: 500, retry: true },
  TASK_FAILED: { domain: "user", status: 500, retry: true },
  TASK_DEPLOYMENT_FAILED: { domain: "internal", status: 500, retry: true },
  TASK_CANCELED: { domain: "internal", status: 500, retry: false },
  TASK_NOT_RUNNING: { domain: "internal", status: 409, retry: true },
  PARTITION_NOT_FOUND: { domain: "internal", status: 500, retry: true },
  INSUFFICIENT_NETWORK_BUFFERS: { domain: "user", status: 500, retry: false },
  CONNECTION_LOST: { domain: "external", status: 500, retry: true },
  RECORD_NOT_SERIALIZABLE: { domain: "user", status: 500, retry: false },
  TASK_OUT_OF_MEMORY: { domain: "user", status: 500, retry: true },
  TASK_EXITED: { domain: "user", status: 500, retry: true },
  TASK_NOT_STOPPED: { domain: "user", status: 500, retry: true },
  // State
  STATE_INVALID_ARGUMENT: { domain: "user", status: 400, retry: false },
  STATE_INCOMPATIBLE: { domain: "user", status: 400, retry: false },
  STATE_BACKEND_FAILED: { domain: "external", status: 500, retry: true },
  STATE_RESTORE_FAILED: { domain: "external", status: 500, retry: false },
  INTERNAL: { domain: "internal", status: 500, retry: false },
  // Checkpoints and recovery
  CHECKPOINTING_DISABLED: { domain: "user", status: 404, retry: false },
  CHECKPOINT_STORAGE_FAILED: { domain: "external", status: 500, retry: true },
  CHECKPOINT_TOLERABLE_FAILURES_EXCEEDED: { domain: "external", status: 500, retry: true },
  CHECKPOINT_INCOMPATIBLE: { domain: "user", status: 400, retry: false },
  // Connectors
  SINK_WRITE_FAILED: { domain: "external", status: 500, retry: true },
  /** A source's split enumerator in the JobManager failed (threw, or its worker died). */
  SOURCE_COORDINATOR_FAILED: { domain: "user", status: 500, retry: true },
  /** An event between a source reader and its enumerator was lost: the job restarts to stay consistent. */
  OPERATOR_EVENT_LOST: { domain: "internal", status: 500, retry: true },
  /** Kafka brokers could not be reached (at start, or for longer than the connector waits). */
  KAFKA_UNREACHABLE: { domain: "external", status: 503, retry: true },
  /** A Kafka topic does not exist (and is not created automatically). */
  KAFKA_TOPIC_NOT_FOUND: { domain: "user", status: 400, retry: true },
  /** A Kafka record the source's deserializer cannot read. */
  KAFKA_DESERIALIZATION_FAILED: { domain: "user", status: 500, retry: false },
  /** A transactional Kafka producer was fenced by a newer one with the same transactional id (a zombie). */
  KAFKA_PRODUCER_FENCED: { domain: "external", status: 500, retry: true },
  /** Any other error a Kafka broker or client reported. */
  KAFKA_ERROR: { domain: "external", status: 500, retry: true },
  /** A Kafka connector built with settings that cannot work. */
  KAFKA_CONFIG_INVALID: { domain: "user", status: 400, retry: false },
  // Savepoints and rescaling
  SAVEPOINT_INVALID: { domain: "user", status: 400, retry: false },
  SAVEPOINT_FAILED: { domain: "external", status: 500, retry: true },
  MAX_PARALLELISM_CHANGED: { domain: "user", status: 400, retry: false },
  UNMATCHED_STATE: { domain: "user", status: 400, retry: false },
  OPERATION_IN_PROGRESS: { domain: "user", status: 409, retry: true },
  OPERATION_NOT_FOUND: { domain: "user", status: 404, retry: false },
  // Resources (TaskManager providers)
  PROVIDER_FAILED: { domain: "external", status: 503, retry: true },
  // High availability
  HA_UNAVAILABLE: { domain: "external", status: 503, retry: true },
  HA_STORAGE_FAILED: { domain: "external", status: 500, retry: true },
  LEADERSHIP_LOST: { domain: "external", status: 503, retry: false },
  /** This JobManager is not the leader (a standby, or no leader is known): ask the leader it names, or retry. */
  NOT_LEADER: { domain: "external", status: 503, retry: true },
  /** A TaskManager refused a command of a leadership older than one it has seen (a deposed JobManager). */
  FENCING_TOKEN_OUTDATED: { domain: "external", status: 409, retry: false },
} as const satisfies Record<string, { domain: ErrorDomain; status: number; retry: boolean }>;

export type ErrorCode = keyof typeof ErrorCodes;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ErrorCodes, code);
}

export class RiffleError extends Error {
  override readonly name = "RiffleError";
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  get domain(): ErrorDomain {
    return ErrorCodes[this.code].domain;
  }

  /** HTTP status for the REST API. */
  get httpStatus(): number {
    return ErrorCodes[this.code].status;
  }

  get retryable(): boolean {
    return ErrorCodes[this.code].retry;
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** Normalises any throwable at a boundary; unknown errors become INTERNAL (or `fallback`). */
export function toRiffleError(err: unknown, fallback: ErrorCode = "INTERNAL"): RiffleError {
  if (err instanceof RiffleError) return err;
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    if (isErrorCode(code)) return new RiffleError(code, err.message, { cause: err });
    return new RiffleError(fallback, err.message || String(err), { cause: err });
  }
  return new RiffleError(fallback, String(err));
}

/** Message with the chain of causes, for logs and failure reasons. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const parts = [err.message];
  let cause = err.cause;
  while (cause instanceof Error && parts.length < 5) {
    if (!parts.includes(cause.message)) parts.push(cause.message);
    cause = cause.cause;
  }
  return parts.join(": caused by ");
}
