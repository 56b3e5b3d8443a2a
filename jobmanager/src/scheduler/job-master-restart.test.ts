import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JobGraph, TaskExecutionState, TaskRestore } from "@riffle/shared";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { ResultBuffer } from "../collect/index.js";
import { TaskManagerRegistry, type HeartbeatSink } from "../registry/index.js";
import { silentLogger as logger, TEST_JOB_ID as JOB, testDefaults, testGraph, testRecord } from "../testing/fixtures.js";
import { TestingTaskExecutorGateway } from "../testing/testing-gateway.js";
import { testStores } from "../testing/test-stores.js";
import { JobMaster } from "./job-master.js";
import { SlotProvider } from "./slot-provider.js";

const id = (vertex: string, subtask: number, attempt: number) => `${JOB}-${vertex}-${subtask}-${attempt}`;
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("JobMaster: restarts", async () => {
  let dir: string;
  let clock: ManualClock;
  let registryTime: number;
  let registry: TaskManagerRegistry;
  let slots: SlotProvider;
  let gateway: TestingTaskExecutorGateway;
  let jm: JobMaster;
  /** Moves the clock on, then lets what its timers started (slot requests, ids taken, records written) go through. */
  const advance = async (ms: number) => {
    clock.advance(ms);
    await settle();
  };
  /** The job's stores: its record in `dir/jobs`, ids and checkpoint pointers in memory. */
  const jobStores = () => {
    const { jobs, counter, checkpoints } = testStores(join(dir, "jobs"));
    return { jobs: jobs!, counter, checkpoints };
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "riffle-jm-restart-"));
    clock = new ManualClock(1_000_000);
    registryTime = 0;
    registry = new TaskManagerRegistry({
      heartbeatIntervalMs: 1_000,
      heartbeatTimeoutMs: 5_000,
      logger,
      clock: { now: () => registryTime, schedule: (fn, ms) => clock.schedule(fn, ms) },
    });
    slots = new SlotProvider(registry, 30_000, logger, clock);
    gateway = new TestingTaskExecutorGateway();
    registry.setListener({
      onTaskManagerRegistered: () => slots.resourcesChanged(),
      onTaskManagerLost: (tm, message) => jm.taskManagerLost(tm.id, message),
      onTaskReports: () => {},
      executionsOn: () => [],
    });
  });

  afterEach(() => {
    jm?.close();
    slots.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function startJob(extra: Partial<JobGraph>): JobMaster {
    jm = new JobMaster(testRecord(testGraph(extra), clock.now()), {
      slots,
      gateway,
      ...jobStores(),
      results: new ResultBuffer(100),
      cancelTimeoutMs: 60_000,
      defaults: testDefaults(join(dir, "checkpoints")),
      logger,
      clock,
    });
    jm.start();
    return jm;
  }

  const register = (tm: string) => registry.register({ taskmanagerId: tm, address: `${tm}:1`, slots: 1, metricsAddress: "", pid: 1 });
  const update = (executionId: string, state: TaskExecutionState["state"], extra: Partial<TaskExecutionState> = {}) => {
    const tm = jm.executionList().find((e) => e.executionId === executionId)?.slot.taskmanagerId ?? "tm-a";
    jm.updateTaskState({ taskmanagerId: tm, executionId, jobId: JOB, state, errorCode: "", errorMessage: "", ...extra });
  };
  const runAll = () => {
    for (const e of jm.executionList()) update(e.executionId, "RUNNING");
  };
  /** The TaskManager stops heartbeating; the others go on, and the registry's next check declares it lost. */
  const loseTaskManager = (lost: string) => {
    registryTime += 6_000;
    const sink: HeartbeatSink = { send: () => {}, close: () => {} };
    for (const tm of registry.list()) if (tm.id !== lost) registry.heartbeat(tm.id, tm.registrationId, [], sink);
    registry.tick();
    expect(registry.get(lost)).toBeUndefined();
  };
  const deployedAttempts = () => gateway.deployed.map((d) => `${d.executionId.slice(JOB.length + 1)}`);

  /** Every task acknowledges checkpoint `n` with one state file, as a TaskManager would. */
  async function completeCheckpoint(n: number): Promise<void> {
    const chkDir = join(dir, "checkpoints", JOB, `chk-${n}`);
    for (const e of jm.executionList()) {
      const path = `${e.vertexId}-${e.subtask}.state`;
      mkdirSync(chkDir, { recursive: true });
      writeFileSync(join(chkDir, path), "state");
      const operators =
        e.vertexId === "v1"
          ? [{ uid: "source-1", keyed: [], operator: [{ path, size: 5, states: {} }] }]
          : [{ uid: "map-2", keyed: [{ path, keyGroupRange: e.subtask === 0 ? { start: 0, end: 63 } : { start: 64, end: 127 }, size: 5 }], operator: [] }];
      jm.acknowledgeCheckpoint({
        jobId: JOB,
        executionId: e.executionId,
        checkpointId: n,
        stateJson: JSON.stringify({ vertexId: e.vertexId, subtask: e.subtask, operators }),
        stateSize: 5,
        syncDurationMs: 1,
        asyncDurationMs: 1,
        alignmentDurationMs: 1,
      });
    }
    await jm.checkpointCoordinator!.whenIdle();
  }

  it("restarts after a task failure: cancels the rest, waits the delay, redeploys attempt 1 from the latest checkpoint", async () => {
    register("tm-a");
    register("tm-b");
    startJob({ checkpointing: { intervalMs: 1_000 }, restartStrategy: { type: "fixed-delay", attempts: 2, delayMs: 5_000 } });
    await settle();
    runAll();
    await advance(1_000);
    expect(gateway.triggered.map((t) => t.executionId)).toEqual([id("v1", 0, 0)]);
    await completeCheckpoint(1);
    expect((await jm.checkpointCoordinator.restoreLatest())?.id).toBe(1);
    await advance(1_000);
    expect(jm.checkpointCoordinator?.pendingCheckpoint?.id).toBe(2);

    update(id("v2", 1, 0), "FAILED", { errorCode: "TASK_FAILED", errorMessage: "boom" });
    expect(jm.status).toBe("RESTARTING");
    expect(jm.numRestarts).toBe(1);
    expect(jm.checkpointCoordinator?.pendingCheckpoint).toBeUndefined();
    expect(jm.checkpointCoordinator?.stats.snapshot().latest.failed).toMatchObject({ id: 2, failureReason: "TASK_FAILURE" });
    expect(gateway.cancelled.sort()).toEqual([id("v1", 0, 0), id("v2", 0, 0)]);
    expect(jm.exceptions.map((e) => [e.code, e.taskName])).toEqual([["TASK_FAILED", "Map -> Sink (2/2)"]]);

    update(id("v1", 0, 0), "CANCELED");
    expect(registry.slotCounts().slotsAvailable).toBe(1);
    update(id("v2", 0, 0), "CANCELED");
    expect(registry.slotCounts().slotsAvailable).toBe(2);
    await advance(4_999);
    await settle();
    expect(gateway.deployed).toHaveLength(3);
    await advance(1);
    await settle();

    expect(jm.status).toBe("RUNNING");
    expect(deployedAttempts()).toEqual(["v1-0-0", "v2-0-0", "v2-1-0", "v1-0-1", "v2-0-1", "v2-1-1"]);
    const redeployed = gateway.deployed.slice(3);
    expect(redeployed.map((d) => d.attempt)).toEqual([1, 1, 1]);
    const chk1 = join(dir, "checkpoints", JOB, "chk-1");
    const restore = (i: number) => JSON.parse(redeployed[i]!.restoreJson) as TaskRestore;
    expect(restore(0)).toEqual({
      checkpointId: 1,
      baseDir: chk1,
      retainedUpTo: 1,
      operators: [{ uid: "source-1", keyed: [], operator: [{ path: "v1-0.state", size: 5, states: {} }], oldParallelism: 1 }],
    });
    expect(restore(2)).toEqual({
      checkpointId: 1,
      baseDir: chk1,
      retainedUpTo: 1,
      operators: [{ uid: "map-2", keyed: [{ path: "v2-1.state", keyGroupRange: { start: 64, end: 127 }, size: 5 }], operator: [], oldParallelism: 2 }],
    });
    expect(redeployed[1]!.inputGates[0]!.channels[0]!.partitionId).toBe(`${id("v1", 0, 1)}/e1`);
    expect(JSON.parse(redeployed[0]!.jobConfigJson)).toMatchObject({ checkpointing: true, stateBackend: "memory" });
    expect(jm.checkpointCoordinator?.stats.snapshot().latest.restored).toEqual({ id: 1, restoreTimestamp: clock.now(), externalPath: chk1 });
    expect(Object.keys(jm.record.statusTimestamps)).toEqual(["CREATED", "RUNNING", "RESTARTING"]);

    update(id("v2", 1, 0), "FAILED");
    expect(jm.status).toBe("RUNNING");
    runAll();
    await advance(1_000);
    expect(gateway.triggered.at(-1)).toMatchObject({ checkpointId: 3, executionId: id("v1", 0, 1) });
  });

  it("fails once the fixed-delay attempts are used up", async () => {
    register("tm-a");
    register("tm-b");
    startJob({ restartStrategy: { type: "fixed-delay", attempts: 1, delayMs: 0 } });
    await settle();
    update(id("v2", 1, 0), "FAILED", { errorMessage: "boom" });
    expect(jm.status).toBe("RESTARTING");
    update(id("v1", 0, 0), "CANCELED");
    update(id("v2", 0, 0), "CANCELED");
    await advance(0);
    await settle();
    expect(jm.status).toBe("RUNNING");
    update(id("v2", 1, 1), "FAILED", { errorMessage: "boom again" });
    expect(jm.status).toBe("FAILING");
    update(id("v1", 0, 1), "CANCELED");
    update(id("v2", 0, 1), "CANCELED");
    expect(jm.status).toBe("FAILED");
    expect(jm.record.failure).toEqual({
      code: "TASK_FAILED",
      message: "Map -> Sink (2/2) on TaskManager tm-b failed: boom again (not restarting: the fixed-delay restart strategy allows 1 restart and all were used)",
    });
    expect(jm.numRestarts).toBe(1);
    expect(jm.exceptions).toHaveLength(2);
    expect(registry.slotCounts().slotsAvailable).toBe(2);
  });

  it("with the none strategy fails as before, even with checkpoints", async () => {
    register("tm-a");
    register("tm-b");
    startJob({ checkpointing: { intervalMs: 1_000 }, restartStrategy: { type: "none" } });
    await settle();
    update(id("v2", 1, 0), "FAILED", { errorCode: "TASK_FAILED", errorMessage: "boom" });
    expect(jm.status).toBe("FAILING");
    update(id("v1", 0, 0), "CANCELED");
    update(id("v2", 0, 0), "CANCELED");
    expect(jm.status).toBe("FAILED");
    expect(jm.record.failure).toEqual({ code: "TASK_FAILED", message: "Map -> Sink (2/2) on TaskManager tm-b failed: boom" });
    expect(jm.numRestarts).toBe(0);
  });

  it("restarts after a TaskManager is lost once a new TaskManager registers", async () => {
    register("tm-a");
    register("tm-b");
    startJob({ checkpointing: { intervalMs: 60_000 } }); // default strategy: exponential backoff from 1 s
    await settle();
    runAll();
    loseTaskManager("tm-b");
    expect(jm.status).toBe("RESTARTING");
    expect(jm.exceptions.map((e) => [e.code, e.taskmanagerId])).toEqual([["TASKMANAGER_LOST", "tm-b"]]);
    update(id("v1", 0, 0), "CANCELED");
    update(id("v2", 0, 0), "CANCELED");
    await advance(1_000);
    await settle();
    expect(jm.status).toBe("RESTARTING");
    expect(gateway.deployed).toHaveLength(3);

    register("tm-c");
    await settle();
    expect(jm.status).toBe("RUNNING");
    expect(jm.executionList().map((e) => [e.executionId, e.slot.taskmanagerId])).toEqual([
      [id("v1", 0, 1), "tm-a"],
      [id("v2", 0, 1), "tm-a"],
      [id("v2", 1, 1), "tm-c"],
    ]);
    expect(gateway.deployed.slice(3).map((d) => d.restoreJson)).toEqual(["", "", ""]);
  });

  const NO_SLOTS = "job needs 2 slots but only 1 is free (1 TaskManager registered); start more TaskManagers or lower the parallelism";

  it("hands NO_RESOURCE_AVAILABLE to the restart strategy, and fails naming the slots once no restart is left", async () => {
    register("tm-a");
    register("tm-b");
    startJob({ restartStrategy: { type: "fixed-delay", attempts: 2, delayMs: 100 } });
    await settle();
    loseTaskManager("tm-b");
    update(id("v1", 0, 0), "CANCELED");
    update(id("v2", 0, 0), "CANCELED");
    await advance(100);
    await advance(29_999);
    expect(jm.exceptions.map((e) => e.code)).toEqual(["TASKMANAGER_LOST"]);

    // The slot timeout is the second failure: the strategy's last restart, not the job's end.
    await advance(1);
    expect(jm.status).toBe("RESTARTING");
    expect(jm.numRestarts).toBe(2);
    expect(jm.exceptions.at(-1)).toMatchObject({ code: "NO_RESOURCE_AVAILABLE", message: NO_SLOTS, taskName: null, taskmanagerId: null });
    expect(registry.slotCounts().slotsAvailable).toBe(1);

    await advance(100);
    await advance(30_000);
    expect(jm.status).toBe("FAILED");
    expect(jm.numRestarts).toBe(2);
    expect(jm.record.failure).toEqual({
      code: "NO_RESOURCE_AVAILABLE",
      message: `${NO_SLOTS} (not restarting: the fixed-delay restart strategy allows 2 restarts and all were used)`,
    });
    expect(jm.exceptions.map((e) => e.code)).toEqual(["TASKMANAGER_LOST", "NO_RESOURCE_AVAILABLE", "NO_RESOURCE_AVAILABLE"]);
    expect(Object.keys(jm.record.statusTimestamps)).toEqual(["CREATED", "RUNNING", "RESTARTING", "FAILING", "FAILED"]);
    expect(gateway.deployed).toHaveLength(3);
    expect(clock.pending).toBe(0);
  });

  it("keeps restarting while slots are missing longer than the slot timeout, and recovers when a TaskManager joins", async () => {
    register("tm-a");
    register("tm-b");
    // Default strategy of a checkpointed job: exponential backoff, 1 s doubling up to 60 s.
    startJob({ checkpointing: { intervalMs: 1_000 } });
    await settle();
    runAll();
    await advance(1_000);
    await completeCheckpoint(1);
    loseTaskManager("tm-b");
    update(id("v1", 0, 0), "CANCELED");
    update(id("v2", 0, 0), "CANCELED");
    expect(jm.status).toBe("RESTARTING");

    // Restart 1 after 1 s asks for slots; 30 s without them is restart 2 (2 s), then restart 3 (4 s).
    await advance(1_000);
    await advance(30_000);
    expect(jm.numRestarts).toBe(2);
    await advance(2_000);
    await advance(30_000);
    expect(jm.numRestarts).toBe(3);
    expect(jm.status).toBe("RESTARTING");
    await advance(4_000);
    await advance(10_000);
    expect(jm.status).toBe("RESTARTING");
    expect(gateway.deployed).toHaveLength(3);

    register("tm-c");
    await settle();
    expect(jm.status).toBe("RUNNING");
    expect(jm.numRestarts).toBe(3);
    expect(jm.executionList().map((e) => [e.executionId, e.slot.taskmanagerId])).toEqual([
      [id("v1", 0, 1), "tm-a"],
      [id("v2", 0, 1), "tm-a"],
      [id("v2", 1, 1), "tm-c"],
    ]);
    expect(gateway.deployed.slice(3).map((d) => (JSON.parse(d.restoreJson) as TaskRestore).checkpointId)).toEqual([1, 1, 1]);
    expect(jm.exceptions.map((e) => e.code)).toEqual(["TASKMANAGER_LOST", "NO_RESOURCE_AVAILABLE", "NO_RESOURCE_AVAILABLE"]);
    expect(Object.keys(jm.record.statusTimestamps)).toEqual(["CREATED", "RUNNING", "RESTARTING"]);
  });

  it("restarts a first submission that gets no slots in time when it has restarts, as Flink does", async () => {
    register("tm-a");
    startJob({ checkpointing: { intervalMs: 1_000 } });
    await advance(30_000);
    expect(jm.status).toBe("RESTARTING");
    expect(jm.numRestarts).toBe(1);
    expect(jm.exceptions.map((e) => [e.code, e.message])).toEqual([["NO_RESOURCE_AVAILABLE", NO_SLOTS]]);

    await advance(1_000);
    register("tm-b");
    await settle();
    expect(jm.status).toBe("RUNNING");
    expect(jm.executionList().map((e) => e.executionId)).toEqual([id("v1", 0, 0), id("v2", 0, 0), id("v2", 1, 0)]);
    expect(Object.keys(jm.record.statusTimestamps)).toEqual(["CREATED", "RESTARTING", "RUNNING"]);
  });

  it("cancels during RESTARTING, while tasks stop and while it waits for the delay", async () => {
    register("tm-a");
    register("tm-b");
    startJob({ restartStrategy: { type: "fixed-delay", attempts: 3, delayMs: 5_000 } });
    await settle();
    update(id("v2", 1, 0), "FAILED");
    update(id("v1", 0, 0), "CANCELED");
    jm.cancel();
    expect(jm.status).toBe("CANCELLING");
    update(id("v2", 0, 0), "CANCELED");
    expect(jm.status).toBe("CANCELED");
    await advance(10_000);
    await settle();
    expect(gateway.deployed).toHaveLength(3);
    expect(registry.slotCounts().slotsAvailable).toBe(2);
  });

  it("cancels at once while waiting for the restart delay", async () => {
    register("tm-a");
    register("tm-b");
    startJob({ restartStrategy: { type: "fixed-delay", attempts: 3, delayMs: 5_000 } });
    await settle();
    update(id("v2", 1, 0), "FAILED");
    update(id("v1", 0, 0), "CANCELED");
    update(id("v2", 0, 0), "CANCELED");
    expect(jm.status).toBe("RESTARTING");
    jm.cancel();
    expect(jm.status).toBe("CANCELED");
    expect(clock.pending).toBe(0);
  });

  it("restarts when more checkpoints fail in a row than tolerated", async () => {
    register("tm-a");
    register("tm-b");
    startJob({ checkpointing: { intervalMs: 1_000 }, restartStrategy: { type: "fixed-delay", attempts: 1, delayMs: 0 } });
    await settle();
    runAll();
    await advance(1_000);
    jm.declineCheckpoint({ jobId: JOB, executionId: id("v2", 0, 0), checkpointId: 1, errorCode: "STATE_BACKEND_FAILED", errorMessage: "disk full" });
    expect(jm.status).toBe("RESTARTING");
    expect(jm.exceptions.map((e) => e.code)).toEqual(["CHECKPOINT_TOLERABLE_FAILURES_EXCEEDED"]);
  });
});
