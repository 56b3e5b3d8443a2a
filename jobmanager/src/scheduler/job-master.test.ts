import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TaskDeploymentDescriptor, TaskExecutionState } from "@riffle/shared";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ResultBuffer } from "../collect/index.js";
import { TaskManagerRegistry } from "../registry/index.js";
import type { JobRecord } from "../store/index.js";
import { silentLogger, TEST_JOB_ID, testDefaults, testGraph, testRecord } from "../testing/fixtures.js";
import { TestingTaskExecutorGateway } from "../testing/testing-gateway.js";
import { testStores } from "../testing/test-stores.js";
import { JobMaster } from "./job-master.js";
import { SlotProvider } from "./slot-provider.js";

const logger = silentLogger;
const graph = testGraph();
const JOB = TEST_JOB_ID;

describe("JobMaster", () => {
  let dir: string;
  let registry: TaskManagerRegistry;
  let slots: SlotProvider;
  let gateway: TestingTaskExecutorGateway;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "riffle-jm-test-"));
    registry = new TaskManagerRegistry({ heartbeatIntervalMs: 1_000, heartbeatTimeoutMs: 5_000, logger });
    slots = new SlotProvider(registry, 60_000, logger);
    registry.setListener({
      onTaskManagerRegistered: () => slots.resourcesChanged(),
      onTaskManagerLost: () => {},
      onTaskReports: () => {},
      executionsOn: () => [],
    });
    gateway = new TestingTaskExecutorGateway();
  });

  afterEach(() => {
    slots.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function job(cancelTimeoutMs = 60_000): JobMaster {
    return new JobMaster(testRecord(graph), {
      slots,
      gateway,
      ...(({ jobs, counter, checkpoints }) => ({ jobs: jobs!, counter, checkpoints }))(testStores(dir)),
      results: new ResultBuffer(100),
      cancelTimeoutMs,
      defaults: testDefaults(join(dir, "checkpoints")),
      logger,
    });
  }

  const register = (id: string, port: number) => registry.register({ taskmanagerId: id, address: `127.0.0.1:${port}`, slots: 1, metricsAddress: "", pid: 1 });
  const update = (jm: JobMaster, executionId: string, state: TaskExecutionState["state"], extra: Partial<TaskExecutionState> = {}) => {
    const tm = jm.executionList().find((e) => e.executionId === executionId)!.slot.taskmanagerId;
    jm.updateTaskState({ taskmanagerId: tm, executionId, jobId: JOB, state, errorCode: "", errorMessage: "", ...extra });
  };
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  const ids = { source: `${JOB}-v1-0-0`, map0: `${JOB}-v2-0-0`, map1: `${JOB}-v2-1-0` };

  it("waits for slots, deploys every subtask with slot sharing, and finishes when all tasks finished", async () => {
    const jm = job();
    jm.start();
    await settle();
    expect(jm.status).toBe("CREATED");
    register("tm-a", 7001);
    await settle();
    expect(jm.status).toBe("CREATED");
    register("tm-b", 7002);
    await settle();
    expect(jm.status).toBe("RUNNING");
    expect(gateway.deployed.map((d) => d.executionId)).toEqual([ids.source, ids.map0, ids.map1]);
    const place = Object.fromEntries(jm.executionList().map((e) => [e.executionId, e.slot.taskmanagerId]));
    expect(place).toEqual({ [ids.source]: "tm-a", [ids.map0]: "tm-a", [ids.map1]: "tm-b" });

    const [source, map0, map1] = gateway.deployed as [TaskDeploymentDescriptor, TaskDeploymentDescriptor, TaskDeploymentDescriptor];
    expect(source.partitions).toEqual([
      {
        partitionId: `${ids.source}/e1`,
        consumerVertexId: "v2",
        numSubpartitions: 2,
        partitioner: "rebalance",
        keySelector: -1,
        maxParallelism: 128,
        edgeIndex: 0,
      },
    ]);
    expect(map1.inputGates).toEqual([
      {
        gateIndex: 0,
        producerVertexId: "v1",
        channels: [{ partitionId: `${ids.source}/e1`, producerSubtask: 0, taskmanagerId: "tm-a", address: "127.0.0.1:7001", subpartition: 1, slotIndex: 0 }],
      },
    ]);
    expect(map0.inputGates[0]!.channels[0]!.subpartition).toBe(0);
    // Slot sharing: subtask i of every vertex in slot i of its TaskManager (each TaskManager here has one).
    expect([source.slotIndex, map0.slotIndex, map1.slotIndex]).toEqual([0, 0, 0]);
    expect(JSON.parse(map0.jobConfigJson)).toEqual({
      bufferTimeoutMs: 100,
      args: ["--x", "1"],
      functionCount: 3,
      stateBackend: "memory",
      checkpointing: false,
      autoWatermarkIntervalMs: 200,
      checkpointHistory: { retainedUpTo: 0, nextCheckpointId: 1 },
    });
    expect([map0.attempt, map0.restoreJson]).toEqual([0, ""]);
    expect(JSON.parse(map0.vertexJson)).toEqual(graph.vertices[1]);

    for (const id of Object.values(ids)) update(jm, id, "RUNNING");
    update(jm, ids.source, "FINISHED");
    update(jm, ids.map0, "FINISHED");
    expect(registry.slotCounts().slotsAvailable).toBe(1);
    expect(jm.status).toBe("RUNNING");
    update(jm, ids.map1, "FINISHED");
    expect(jm.status).toBe("FINISHED");
    expect(registry.slotCounts().slotsAvailable).toBe(2);
    const saved = JSON.parse(readFileSync(join(dir, `${JOB}.json`), "utf8")) as JobRecord;
    expect(saved.status).toBe("FINISHED");
    expect(Object.keys(saved.statusTimestamps)).toEqual(["CREATED", "RUNNING", "FINISHED"]);
    expect(saved.endTime).toBeGreaterThan(0);
  });

  it("fails the job when a task fails: cancels the others and ends FAILED once they confirmed", async () => {
    register("tm-a", 7001);
    register("tm-b", 7002);
    const jm = job();
    jm.start();
    await settle();
    update(jm, ids.map1, "FAILED", { errorCode: "TASK_FAILED", errorMessage: "boom" });
    expect(jm.status).toBe("FAILING");
    expect(gateway.cancelled.sort()).toEqual([ids.map0, ids.source].sort());
    update(jm, ids.source, "CANCELED");
    expect(jm.status).toBe("FAILING");
    update(jm, ids.map0, "CANCELED");
    expect(jm.status).toBe("FAILED");
    expect(jm.record.failure).toEqual({ code: "TASK_FAILED", message: "Map -> Sink (2/2) on TaskManager tm-b failed: boom" });
    expect(jm.exceptions.map((e) => [e.code, e.taskName, e.taskmanagerId])).toEqual([["TASK_FAILED", "Map -> Sink (2/2)", "tm-b"]]);
    expect(registry.slotCounts().slotsAvailable).toBe(2);
  });

  it("fails the job with TASKMANAGER_LOST when a TaskManager running its tasks is lost", async () => {
    register("tm-a", 7001);
    register("tm-b", 7002);
    const jm = job();
    jm.start();
    await settle();
    jm.taskManagerLost("tm-b", "TaskManager tm-b (127.0.0.1:7002) was lost: its connection broke");
    expect(jm.status).toBe("FAILING");
    update(jm, ids.source, "CANCELED");
    update(jm, ids.map0, "CANCELED");
    expect(jm.status).toBe("FAILED");
    expect(jm.record.failure).toEqual({ code: "TASKMANAGER_LOST", message: "TaskManager tm-b (127.0.0.1:7002) was lost: its connection broke" });
  });

  it("fails the job with TASK_DEPLOYMENT_FAILED when a deployment is refused", async () => {
    register("tm-a", 7001);
    register("tm-b", 7002);
    gateway.failDeployOf.add(ids.map1);
    const jm = job();
    jm.start();
    await settle();
    expect(jm.status).toBe("FAILING");
    expect(jm.record.failure).toEqual({
      code: "TASK_DEPLOYMENT_FAILED",
      message: "could not deploy Map -> Sink (2/2) to TaskManager tm-b (127.0.0.1:7002): connection refused",
    });
  });

  it("cancels: CANCELLING until the tasks confirm, then CANCELED; a second cancel of the ended job is refused", async () => {
    register("tm-a", 7001);
    register("tm-b", 7002);
    const jm = job();
    jm.start();
    await settle();
    jm.cancel();
    expect(jm.status).toBe("CANCELLING");
    expect(gateway.cancelled).toHaveLength(3);
    for (const id of Object.values(ids)) update(jm, id, "CANCELED");
    expect(jm.status).toBe("CANCELED");
    expect(() => jm.cancel()).toThrow(/already ended \(CANCELED\)/);
  });

  it("ends a cancelled job after jobmanager.cancel.timeout when tasks never confirm", async () => {
    register("tm-a", 7001);
    register("tm-b", 7002);
    const jm = job(50);
    jm.start();
    await settle();
    vi.useFakeTimers();
    try {
      jm.cancel();
      vi.advanceTimersByTime(49);
      expect(jm.status).toBe("CANCELLING");
      vi.advanceTimersByTime(1);
      expect(jm.status).toBe("CANCELED");
    } finally {
      vi.useRealTimers();
    }
  });

  it("cancels a job still waiting for slots at once", async () => {
    const jm = job();
    jm.start();
    jm.cancel();
    expect(jm.status).toBe("CANCELED");
    register("tm-a", 7001);
    register("tm-b", 7002);
    await settle();
    expect(gateway.deployed).toEqual([]);
    expect(registry.slotCounts().slotsAvailable).toBe(2);
  });

  it("fails with NO_RESOURCE_AVAILABLE when slots do not come in time", async () => {
    vi.useFakeTimers();
    slots.close();
    slots = new SlotProvider(registry, 30_000, logger);
    register("tm-a", 7001);
    const jm = job();
    try {
      jm.start();
      await vi.advanceTimersByTimeAsync(29_999);
      expect(jm.status).toBe("CREATED");
      await vi.advanceTimersByTimeAsync(1);
    } finally {
      vi.useRealTimers();
    }
    expect(jm.status).toBe("FAILED");
    expect(jm.record.failure).toEqual({
      code: "NO_RESOURCE_AVAILABLE",
      message: "job needs 2 slots but only 1 is free (1 TaskManager registered); start more TaskManagers or lower the parallelism",
    });
  });

  it("ignores updates of unknown executions and from other TaskManagers", async () => {
    register("tm-a", 7001);
    register("tm-b", 7002);
    const jm = job();
    jm.start();
    await settle();
    jm.updateTaskState({ taskmanagerId: "tm-a", executionId: "nope", jobId: JOB, state: "FAILED", errorCode: "", errorMessage: "" });
    jm.updateTaskState({ taskmanagerId: "tm-a", executionId: ids.map1, jobId: JOB, state: "FAILED", errorCode: "", errorMessage: "" });
    expect(jm.status).toBe("RUNNING");
  });
});
