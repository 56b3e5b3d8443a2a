import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { CheckpointSettings, ErrorCode, TaskStateSnapshot } from "@riffle/shared";
import {
  CheckpointCoordinator,
  FileSystemCheckpointStorage,
  resolveCheckpointConfig,
  type CheckpointStorage,
  type CheckpointTask,
  type CompletedCheckpoint,
  type CoordinatorCheckpoints,
} from "../checkpoint/index.js";
import { ManualClock } from "../clock.js";
import { silentLogger, TEST_JOB_ID, testDefaults, testGraph } from "./fixtures.js";
import { testStores } from "./test-stores.js";
import { TestingTaskExecutorGateway } from "./testing-gateway.js";

export const SRC = "e-src";
export const MAP0 = "e-map0";
export const MAP1 = "e-map1";

/**
 * A CheckpointCoordinator over the test graph (Source (1) → Map -> Sink (2)) with a ManualClock, a
 * recording gateway and a job context whose tasks a test sets by hand.
 */
export class CoordinatorHarness {
  readonly clock = new ManualClock(1_000_000);
  readonly gateway = new TestingTaskExecutorGateway();
  /** Ids of the savepoints the coordinator reported completed to its job (recorded in the job record). */
  readonly savepointsRecorded: number[] = [];
  /** The job's HA stores (ids and pointers in memory): a successor harness shares them with `stores`. */
  readonly stores: ReturnType<typeof testStores>;
  readonly jobFailures: Array<{ code: ErrorCode; message: string }> = [];
  readonly tasks: CheckpointTask[] = [
    { executionId: SRC, vertexId: "v1", subtask: 0, name: "Source (1/1)", address: "tm-a:1", status: "running" },
    { executionId: MAP0, vertexId: "v2", subtask: 0, name: "Map -> Sink (1/2)", address: "tm-a:1", status: "running" },
    { executionId: MAP1, vertexId: "v2", subtask: 1, name: "Map -> Sink (2/2)", address: "tm-b:1", status: "running" },
  ];
  readonly coordinator: CheckpointCoordinator;
  readonly jobDir: string;

  /** `settings` null: a job without checkpoints (savepoints only). */
  constructor(
    checkpointDir: string,
    settings: Partial<CheckpointSettings> | null = {},
    options: {
      stores?: ReturnType<typeof testStores>;
      latest?: CompletedCheckpoint;
      newestSavepointId?: number;
      storage?: (jobDir: string) => CheckpointStorage;
      base?: CompletedCheckpoint;
      coordinators?: CoordinatorCheckpoints;
    } = {},
  ) {
    this.stores = options.stores ?? testStores(undefined);
    const graph = testGraph(settings === null ? {} : { checkpointing: { intervalMs: 1_000, ...settings } });
    const config = resolveCheckpointConfig(graph.checkpointing, testDefaults(checkpointDir).checkpoints, TEST_JOB_ID);
    this.jobDir = config.jobDir;
    this.coordinator = new CheckpointCoordinator({
      jobId: TEST_JOB_ID,
      jobName: graph.name,
      graph,
      config,
      gateway: this.gateway,
      storage: options.storage?.(config.jobDir) ?? new FileSystemCheckpointStorage(config.jobDir),
      clock: this.clock,
      logger: silentLogger,
      counter: this.stores.counter,
      checkpoints: this.stores.checkpoints,
      latest: options.latest,
      newestSavepointId: options.newestSavepointId,
      ...(options.base ? { base: options.base } : {}),
      ...(options.coordinators ? { coordinators: options.coordinators } : {}),
      job: {
        tasks: () => this.tasks.map((t) => ({ ...t })),
        savepointCompleted: async (id) => {
          this.savepointsRecorded.push(id);
        },
        failJob: (failure) => this.jobFailures.push(failure),
      },
    });
  }

  task(executionId: string): CheckpointTask {
    return this.tasks.find((t) => t.executionId === executionId)!;
  }

  /** The state a task of the test graph writes: one file per handle, in the checkpoint's directory. */
  snapshotOf(executionId: string, checkpointDir: string): TaskStateSnapshot {
    const t = this.task(executionId);
    const file = (path: string) => {
      mkdirSync(dirname(join(checkpointDir, path)), { recursive: true });
      writeFileSync(join(checkpointDir, path), `${executionId} state`);
      return path;
    };
    if (t.vertexId === "v1") {
      return {
        vertexId: "v1",
        subtask: 0,
        operators: [{ uid: "source-1", keyed: [], operator: [{ path: file("source-1/0.op"), size: 14, states: { offsets: { mode: "split", count: 1 } } }] }],
      } as unknown as TaskStateSnapshot;
    }
    const range = t.subtask === 0 ? { start: 0, end: 63 } : { start: 64, end: 127 };
    return {
      vertexId: "v2",
      subtask: t.subtask,
      operators: [{ uid: "map-2", keyed: [{ path: file(`map-2/${t.subtask}.keyed`), keyGroupRange: range, size: 15 }], operator: [] }],
    } as unknown as TaskStateSnapshot;
  }

  /** The directory checkpoint (or savepoint) `checkpointId` was triggered into. */
  dirOf(checkpointId: number): string {
    return this.gateway.triggered.find((t) => t.checkpointId === checkpointId)?.targetDir ?? join(this.jobDir, `chk-${checkpointId}`);
  }

  ack(checkpointId: number, executionId: string, snapshot?: TaskStateSnapshot | string): void {
    const dir = this.dirOf(checkpointId);
    const state = snapshot ?? this.snapshotOf(executionId, dir);
    this.coordinator.receiveAcknowledge({
      jobId: TEST_JOB_ID,
      executionId,
      checkpointId,
      stateJson: typeof state === "string" ? state : JSON.stringify(state),
      stateSize: 0,
      syncDurationMs: 3,
      asyncDurationMs: 20,
      alignmentDurationMs: executionId === SRC ? 0 : 7,
    });
  }

  /** Moves the clock on and waits for what its timers started (ids are taken asynchronously before a trigger). */
  async advance(ms: number): Promise<void> {
    this.clock.advance(ms);
    await this.coordinator.whenIdle();
  }

  /** Every task that has not finished acknowledges, then the checkpoint is sealed. */
  async ackAll(checkpointId: number): Promise<void> {
    await this.coordinator.whenIdle();
    for (const t of this.tasks) if (t.status !== "finished") this.ack(checkpointId, t.executionId);
    await this.coordinator.whenIdle();
  }

  decline(checkpointId: number, executionId: string, errorCode = "CHECKPOINT_DECLINED", errorMessage = "disk full"): void {
    this.coordinator.receiveDecline({ jobId: TEST_JOB_ID, executionId, checkpointId, errorCode, errorMessage });
  }
}
