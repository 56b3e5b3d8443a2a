import type * as grpc from "@grpc/grpc-js";
import {
  RiffleError,
  decodeBatch,
  rpc,
  toRiffleError,
  type AcknowledgeCheckpointRequest,
  type CollectBatch,
  type DeclineCheckpointRequest,
  type OperatorEventRequest,
  type GetBundleRequest,
  type JobManagerHeartbeat,
  type RegisterTaskManagerRequest,
  type TaskExecutionState,
  type TaskManagerHeartbeat,
} from "@riffle/shared";
import type { Dispatcher } from "../dispatcher/index.js";
import type { HeartbeatSink, TaskManagerRegistry } from "../registry/index.js";
import type { BundleStore } from "../store/index.js";

/**
 * JobManagerService: what TaskManagers call. `leader()` is the leader part of the moment (it throws
 * NOT_LEADER on a standby, naming the leader: a TaskManager given a list of JobManagers moves on);
 * bundles are served by every JobManager, from the storage they share.
 */
export function jobManagerService(
  leader: () => { dispatcher: Dispatcher; registry: TaskManagerRegistry },
  bundles: () => BundleStore,
): grpc.UntypedServiceImplementation {
  const dispatcher = () => leader().dispatcher;
  return {
    RegisterTaskManager: rpc.handleUnary((req: RegisterTaskManagerRequest) => leader().registry.register(req)),
    Heartbeat: (call: grpc.ServerDuplexStream<TaskManagerHeartbeat, JobManagerHeartbeat>) => acceptHeartbeats(() => leader().registry, call),
    UpdateTaskExecutionState: rpc.handleUnary((req: TaskExecutionState) => {
      dispatcher().updateTaskState(req);
      return {};
    }),
    GetBundle: rpc.handleUnary((req: GetBundleRequest) => ({ bundle: bundles().get(req.bundleHash) })),
    PushCollectBatch: rpc.handleUnary(async (req: CollectBatch) => {
      const job = dispatcher().job(req.jobId);
      let records: unknown[];
      try {
        records = decodeBatch(req.records);
      } catch (err) {
        throw new RiffleError("BAD_REQUEST", `collect batch ${req.sequence} of ${req.executionId} is not a record batch: ${(err as Error).message}`);
      }
      await job.results.push(req.executionId, req.sequence, records);
      return {};
    }),
    // Answered at once: sealing the checkpoint (file copies, _metadata) does not hold up the task.
    AcknowledgeCheckpoint: rpc.handleUnary((req: AcknowledgeCheckpointRequest) => {
      dispatcher().acknowledgeCheckpoint(req);
      return {};
    }),
    DeclineCheckpoint: rpc.handleUnary((req: DeclineCheckpointRequest) => {
      dispatcher().declineCheckpoint(req);
      return {};
    }),
    // Answered once the event is with its coordinator: a reader's events stay in order.
    SendOperatorEvent: rpc.handleUnary((req: OperatorEventRequest) => {
      dispatcher().operatorEvent(req);
      return {};
    }),
  };
}

/**
 * One TaskManager's Heartbeat stream. The stream is bound to the registration named in its first
 * heartbeat, in the registry of the leadership of that moment; when it ends or breaks, that
 * registration's TaskManager is lost. A stream opened on a standby is ended with NOT_LEADER.
 */
function acceptHeartbeats(currentRegistry: () => TaskManagerRegistry, call: grpc.ServerDuplexStream<TaskManagerHeartbeat, JobManagerHeartbeat>): void {
  let bound: { taskmanagerId: string; registrationId: string; registry: TaskManagerRegistry } | undefined;
  const usable = (): boolean => !call.writableEnded && !call.destroyed;
  const sink: HeartbeatSink = {
    send: (heartbeat) => {
      if (usable()) call.write(heartbeat);
    },
    close: (error) => {
      if (!usable()) return;
      if (error) call.emit("error", rpc.toServiceError(error));
      else call.end();
    },
  };
  const closed = (): void => {
    const b = bound;
    bound = undefined;
    if (b) b.registry.streamClosed(b.taskmanagerId, b.registrationId, sink);
  };
  call.on("data", (heartbeat: TaskManagerHeartbeat) => {
    try {
      bound ??= { taskmanagerId: heartbeat.taskmanagerId, registrationId: heartbeat.registrationId, registry: currentRegistry() };
      bound.registry.heartbeat(bound.taskmanagerId, bound.registrationId, heartbeat.tasks, sink);
    } catch (err) {
      bound = undefined;
      sink.close(toRiffleError(err));
    }
  });
  call.on("end", () => {
    closed();
    sink.close();
  });
  call.on("error", closed);
  call.on("cancelled", closed);
  call.on("close", closed);
}
