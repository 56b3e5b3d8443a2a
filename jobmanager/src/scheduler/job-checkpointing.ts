import type { JobGraph, Logger } from "@riffle/shared";
import {
  CheckpointCoordinator,
  FileSystemCheckpointStorage,
  assignTaskRestore,
  resolveCheckpointConfig,
  type CheckpointJobContext,
  type CheckpointStorage,
  type CheckpointTask,
  type CompletedCheckpoint,
  type CoordinatorCheckpoints,
} from "../checkpoint/index.js";
import type { Clock } from "../clock.js";
import type { CheckpointIdCounter, CompletedCheckpointStore } from "../ha/index.js";
import type { JobRecord } from "../store/index.js";
import type { DeploymentContext } from "./deployment.js";
import { taskNameOf, type Execution } from "./execution.js";
import type { JobDefaults } from "./job-defaults.js";
import type { TaskExecutorGateway } from "./task-executor-gateway.js";

/** The glue between a JobMaster and its CheckpointCoordinator. */

export interface JobCheckpointingOptions {
  record: JobRecord;
  gateway: TaskExecutorGateway;
  defaults: JobDefaults;
  clock: Clock;
  logger: Logger;
  storage?: (jobDir: string) => CheckpointStorage;
  counter: CheckpointIdCounter;
  checkpoints: CompletedCheckpointStore;
  /** The newest checkpoint in `checkpoints` (a recovered job's). */
  latest?: CompletedCheckpoint | undefined;
  /** The executions of the current attempt. */
  executions(): Execution[];
  /** More checkpoints failed in a row than the job tolerates. */
  failJob: CheckpointJobContext["failJob"];
  /** A savepoint completed: record its id in the job record. */
  savepointCompleted: CheckpointJobContext["savepointCompleted"];
  /** The savepoint the job starts from. */
  savepoint?: CompletedCheckpoint | undefined;
  /** The job's source coordinators, if it has any. */
  coordinators?: CoordinatorCheckpoints | undefined;
}

/**
 * The job's coordinator. Every job has one: a job without checkpoints takes no periodic ones but
 * can still take savepoints. Its id counter and completed checkpoints are the HA stores of the
 * job; the newest savepoint's id is in the job record. Throws JOB_INVALID_GRAPH for settings out of
 * range.
 */
export function createJobCheckpointCoordinator(options: JobCheckpointingOptions): CheckpointCoordinator {
  const { record } = options;
  const config = resolveCheckpointConfig(record.graph.checkpointing, options.defaults.checkpoints, record.id);
  return new CheckpointCoordinator({
    jobId: record.id,
    jobName: record.name,
    graph: record.graph,
    config,
    gateway: options.gateway,
    storage: options.storage?.(config.jobDir) ?? new FileSystemCheckpointStorage(config.jobDir),
    clock: options.clock,
    logger: options.logger,
    counter: options.counter,
    checkpoints: options.checkpoints,
    latest: options.latest,
    newestSavepointId: record.newestSavepointId,
    ...(options.savepoint ? { base: options.savepoint } : {}),
    ...(options.coordinators ? { coordinators: options.coordinators } : {}),
    job: {
      tasks: () => options.executions().map(checkpointTaskOf),
      savepointCompleted: options.savepointCompleted,
      failJob: options.failJob,
    },
  });
}

export function checkpointTaskOf(e: Execution): CheckpointTask {
  return {
    executionId: e.executionId,
    vertexId: e.vertexId,
    subtask: e.subtask,
    name: taskNameOf(e),
    address: e.slot.address,
    status: e.state === "RUNNING" ? "running" : e.state === "FINISHED" ? "finished" : "other",
  };
}

/**
 * Each subtask's share of a completed checkpoint, for the deployment descriptors of a restart, with the
 * newest checkpoint or savepoint of the job that sinks must keep the staged output of.
 */
export function restoreFrom(graph: JobGraph, checkpoint: CompletedCheckpoint, retainedUpTo: number): NonNullable<DeploymentContext["restore"]> {
  return (vertex, subtask) =>
    assignTaskRestore(
      checkpoint.metadata,
      checkpoint.path,
      {
        uids: vertex.operators.map((o) => o.uid),
        subtask,
        parallelism: vertex.parallelism,
        maxParallelism: graph.maxParallelism,
      },
      retainedUpTo,
    );
}
