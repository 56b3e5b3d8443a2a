import { setTimeout as sleep } from "node:timers/promises";
import type * as grpc from "@grpc/grpc-js";
import {
  RiffleError,
  rpc,
  type JobManagerHeartbeat,
  type Logger,
  type RegisterTaskManagerRequest,
  type RegisterTaskManagerResponse,
  type TaskExecutionState,
  type TaskManagerHeartbeat,
  type TaskMetricsReport,
  type CollectBatch,
  type GetBundleResponse,
  type AcknowledgeCheckpointRequest,
  type DeclineCheckpointRequest,
  type OperatorEventRequest,
} from "@riffle/shared";

/** `promise`, unless `signal` aborts first: then its reason. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

type JobManagerClient = grpc.Client & {
  Heartbeat(): grpc.ClientDuplexStream<TaskManagerHeartbeat, JobManagerHeartbeat>;
};

export interface JobManagerConnectionEvents {
  /** The JobManager is gone (broken heartbeat stream or heartbeat timeout). */
  onLost(reason: string): void;
  /** A heartbeat of the JobManager arrived (its fencing token, the executions it believes run here). */
  onHeartbeat(heartbeat: JobManagerHeartbeat): void;
  /** Task reports for the next heartbeat. */
  reports(): TaskMetricsReport[];
}

/** The longest a registration attempt at one of several JobManagers waits (a paused one never answers). */
const ATTEMPT_TIMEOUT_MS = 2_000;

/**
 * The TaskManager's side of the JobManager link: registration with retries, then heartbeats both ways
 * over one stream. Either a broken stream or `heartbeatTimeout` without a JobManager heartbeat ends
 * the connection with `onLost`. Given several JobManager addresses (a highly available cluster), it
 * asks each in turn until the leader accepts (a standby answers NOT_LEADER), and talks to that one.
 */
export class JobManagerConnection {
  private readonly clients = new Map<string, JobManagerClient>();
  private client: JobManagerClient;
  /** The JobManager registered with (the first address until then). */
  address: string;
  private stream: grpc.ClientDuplexStream<TaskManagerHeartbeat, JobManagerHeartbeat> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private registration: RegisterTaskManagerResponse | undefined;
  private lastHeartbeat = 0;
  private closed = false;
  /** Aborted by close(): a registration in progress stops. */
  private readonly stopped = new AbortController();

  constructor(
    private readonly addresses: readonly string[],
    private readonly request: RegisterTaskManagerRequest,
    private readonly events: JobManagerConnectionEvents,
    private readonly log: Logger,
  ) {
    if (addresses.length === 0) throw new RiffleError("CONFIG_INVALID", "no JobManager address to register with");
    this.address = addresses[0]!;
    this.client = this.clientFor(this.address);
  }

  private clientFor(address: string): JobManagerClient {
    let client = this.clients.get(address);
    if (!client) {
      client = rpc.createClient<JobManagerClient>("JobManagerService", address);
      this.clients.set(address, client);
    }
    return client;
  }

  /**
   * Registers, retrying with backoff until `timeoutMs`; then starts heartbeating. `signal` (a shutdown
   * requested while the TaskManager starts) and close() end the attempts at once: the promise then
   * rejects with the abort's reason.
   */
  async register(timeoutMs: number, signal?: AbortSignal): Promise<RegisterTaskManagerResponse> {
    const stop = signal ? AbortSignal.any([signal, this.stopped.signal]) : this.stopped.signal;
    const deadline = Date.now() + timeoutMs;
    let backoff = 100;
    let lastError: unknown;
    const several = this.addresses.length > 1;
    while (Date.now() < deadline) {
      // One round: every JobManager in turn; only the leader accepts.
      for (const address of this.addresses) {
        stop.throwIfAborted();
        if (Date.now() >= deadline) break;
        const client = this.clientFor(address);
        try {
          const res = await untilAborted(
            rpc.unary<RegisterTaskManagerRequest, RegisterTaskManagerResponse>(
              client,
              "RegisterTaskManager",
              this.request,
              Math.max(1000, Math.min(several ? ATTEMPT_TIMEOUT_MS : 5000, deadline - Date.now())),
            ),
            stop,
          );
          this.address = address;
          this.client = client;
          this.registration = res;
          this.startHeartbeats(res);
          return res;
        } catch (err) {
          stop.throwIfAborted();
          lastError = err;
          this.log.debug({ jobmanager: address, err: (err as Error).message }, "registration attempt failed");
        }
      }
      // Retry backoff while no JobManager accepts (none reachable, or no leader yet): the next attempt is the event awaited.
      await sleep(Math.min(backoff, Math.max(0, deadline - Date.now())), undefined, { signal: stop }).catch(() => {});
      stop.throwIfAborted();
      backoff = Math.min(backoff * 2, several ? 500 : 2000);
    }
    const where = several ? `any of the JobManagers at ${this.addresses.join(", ")}` : `the JobManager at ${this.address}`;
    throw new RiffleError(
      "JOBMANAGER_UNREACHABLE",
      `could not register with ${where} within ${timeoutMs} ms (${(lastError as Error)?.message ?? "no attempt"}); is it running (and leading), and is taskmanager.jobmanager.address right?`,
      { cause: lastError },
    );
  }

  private startHeartbeats(reg: RegisterTaskManagerResponse): void {
    const stream = this.client.Heartbeat();
    this.stream = stream;
    this.lastHeartbeat = Date.now();
    let lost = false;
    const lose = (reason: string) => {
      if (lost || this.closed) return;
      lost = true;
      this.stopHeartbeats();
      this.events.onLost(reason);
    };
    stream.on("data", (heartbeat: JobManagerHeartbeat) => {
      this.lastHeartbeat = Date.now();
      if (!lost && !this.closed) this.events.onHeartbeat(heartbeat);
    });
    stream.on("error", (err: grpc.ServiceError) => lose(`heartbeat stream broke: ${err.details || err.message}`));
    stream.on("end", () => lose("the JobManager closed the heartbeat stream"));
    const beat = () => {
      if (Date.now() - this.lastHeartbeat > reg.heartbeatTimeoutMs) {
        lose(`no heartbeat from the JobManager for ${reg.heartbeatTimeoutMs} ms`);
        return;
      }
      stream.write({ taskmanagerId: this.request.taskmanagerId, registrationId: reg.registrationId, tasks: this.events.reports() });
    };
    beat();
    this.timer = setInterval(beat, reg.heartbeatIntervalMs);
  }

  private stopHeartbeats(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const s = this.stream;
    this.stream = undefined;
    s?.cancel();
  }

  async updateTaskState(update: Omit<TaskExecutionState, "taskmanagerId">): Promise<void> {
    await rpc.unary(this.client, "UpdateTaskExecutionState", { ...update, taskmanagerId: this.request.taskmanagerId }, 10_000);
  }

  async getBundle(bundleHash: string): Promise<Buffer> {
    const res = await rpc.unary<{ bundleHash: string }, GetBundleResponse>(this.client, "GetBundle", { bundleHash }, 60_000);
    return res.bundle;
  }

  /** The JobManager holds the answer back while its client lags: the wait is the back-pressure. */
  async pushCollect(batch: CollectBatch): Promise<void> {
    await rpc.unary(this.client, "PushCollectBatch", batch, 24 * 3600_000);
  }

  async acknowledgeCheckpoint(ack: AcknowledgeCheckpointRequest): Promise<void> {
    await rpc.unary(this.client, "AcknowledgeCheckpoint", ack, 30_000);
  }

  async declineCheckpoint(decline: DeclineCheckpointRequest): Promise<void> {
    await rpc.unary(this.client, "DeclineCheckpoint", decline, 30_000);
  }

  async sendOperatorEvent(event: OperatorEventRequest): Promise<void> {
    await rpc.unary(this.client, "SendOperatorEvent", event, 30_000);
  }

  get registrationId(): string | undefined {
    return this.registration?.registrationId;
  }

  close(): void {
    this.closed = true;
    this.stopped.abort(new RiffleError("CONNECTION_LOST", `the connection to the JobManager at ${this.address} was closed`));
    this.stopHeartbeats();
    for (const client of this.clients.values()) client.close();
  }
}
