import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RiffleError, type JobGraph, type TaskExecutionState, type TaskRestore } from "@riffle/shared";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readSavepoint, type CompletedCheckpoint } from "../checkpoint/index.js";
import { ManualClock } from "../clock.js";
import { ResultBuffer } from "../collect/index.js";
import { TaskManagerRegistry } from "../registry/index.js";
import { silentLogger as logger, TEST_JOB_ID as JOB, testDefaults, testGraph, testRecord } from "../testing/fixtures.js";
import { TestingTaskExecutorGateway } from "../testing/testing-gateway.js";
import { testStores } from "../testing/test-stores.js";
import { JobMaster } from "./job-master.js";
import { SlotProvider } from "./slot-provider.js";

const id = (vertex: string, subtask: number, attempt: number) => `${JOB}-${vertex}-${subtask}-${attempt}`;
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function outcome<T>(promise: Promise<T>): { value?: T; error?: RiffleError } {
  const state: { value?: T; error?: RiffleError } = {};
  promise.then(
    (value) => {
      state.value = value;
    },
    (error: RiffleError) => {
      state.error = error;
    },
  );
  return state;
}

/** The test graph at another parallelism of its map -> sink vertex (what a rescale plans). */
function rescaled(parallelism: number, extra: Partial<JobGraph> = {}): JobGraph {
  const graph = testGraph(extra);
  graph.vertices[1]!.parallelism = parallelism;
  return graph;
}

describe("JobMaster: savepoints, stop and rescale", async () => {
  let dir: string;
  let clock: ManualClock;
  let registry: TaskManagerRegistry;
  let slots: SlotProvider;
  let gateway: TestingTaskExecutorGateway;
  let jm: JobMaster;
  /** Moves the clock on, then lets what its timers started (ids taken, records written) go through. */
  const advance = async (ms: number) => {
    clock.advance(ms);
    await settle();
  };
  /** The job's stores: its record in `dir/jobs`, ids and checkpoint pointers in memory. */
  const jobStores = (savepoint?: CompletedCheckpoint) => {
    const { jobs, counter, checkpoints, state } = testStores(join(dir, "jobs"));
    // As the dispatcher does when a job is submitted from a savepoint: its ids continue after the savepoint's.
    if (savepoint) state.counters.set(JOB, savepoint.id + 1);
    return { jobs: jobs!, counter, checkpoints };
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "riffle-jm-savepoint-"));
    clock = new ManualClock(1_000_000);
    registry = new TaskManagerRegistry({
      heartbeatIntervalMs: 1_000,
      heartbeatTimeoutMs: 5_000,
      logger,
      clock: { now: () => 0, schedule: (fn, ms) => clock.schedule(fn, ms) },
    });
    slots = new SlotProvider(registry, 30_000, logger, clock);
    gateway = new TestingTaskExecutorGateway();
    registry.setListener({
      onTaskManagerRegistered: () => slots.resourcesChanged(),
      onTaskManagerLost: (tm, message) => jm.taskManagerLost(tm.id, message),
      onTaskReports: () => {},
      executionsOn: () => [],
    });
    for (const tm of ["tm-a", "tm-b", "tm-c"]) registry.register({ taskmanagerId: tm, address: `${tm}:1`, slots: 1, metricsAddress: "", pid: 1 });
  });

  afterEach(() => {
    jm?.close();
    slots.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function startJob(extra: Partial<JobGraph> = { checkpointing: { intervalMs: 1_000 } }, savepoint?: CompletedCheckpoint): JobMaster {
    jm = new JobMaster(
      testRecord(testGraph(extra), clock.now()),
      {
        slots,
        gateway,
        ...jobStores(savepoint),
        results: new ResultBuffer(100),
        cancelTimeoutMs: 60_000,
        defaults: testDefaults(join(dir, "checkpoints")),
        logger,
        clock,
      },
      { savepoint },
    );
    jm.start();
    return jm;
  }

  const update = (executionId: string, state: TaskExecutionState["state"]) => {
    const tm = jm.executionList().find((e) => e.executionId === executionId)?.slot.taskmanagerId ?? "tm-a";
    jm.updateTaskState({ taskmanagerId: tm, executionId, jobId: JOB, state, errorCode: "", errorMessage: "" });
  };
  const runAll = () => {
    for (const e of jm.executionList()) update(e.executionId, "RUNNING");
  };
  const cancelAll = () => {
    for (const e of jm.executionList()) if (e.state === "CANCELING") update(e.executionId, "CANCELED");
  };

  /** Every running task acknowledges checkpoint `n` into the directory it was triggered into. */
  async function acknowledge(n: number): Promise<void> {
    await jm.checkpointCoordinator.whenIdle();
    const target = gateway.triggered.find((t) => t.checkpointId === n)!.targetDir;
    for (const e of jm.executionList()) {
      if (e.state !== "RUNNING") continue;
      const path = `${e.vertexId}-${e.subtask}-${n}.state`;
      mkdirSync(target, { recursive: true });
      writeFileSync(join(target, path), "state");
      const range = { start: Math.ceil((e.subtask * 128) / e.parallelism), end: Math.ceil(((e.subtask + 1) * 128) / e.parallelism) - 1 };
      const operators =
        e.vertexId === "v1"
          ? [{ uid: "source-1", keyed: [], operator: [{ path, size: 5, states: {} }] }]
          : [{ uid: "map-2", keyed: [{ path, keyGroupRange: range, size: 5 }], operator: [] }];
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
    await jm.checkpointCoordinator.whenIdle();
    await settle();
  }

  it("stop-with-savepoint: the tasks learn of the savepoint before they are cancelled, then the job is FINISHED", async () => {
    startJob();
    await settle();
    runAll();
    const stop = outcome(jm.stopWithSavepoint(join(dir, "sp"), { type: "stop" }));
    expect(() => jm.stopWithSavepoint(join(dir, "sp"), { type: "stop" })).toThrow(/already being stopped or rescaled/);
    await advance(5_000);
    expect(gateway.triggered.map((t) => [t.checkpointId, t.isSavepoint])).toEqual([[1, true]]);
    expect(jm.status).toBe("RUNNING");
    await acknowledge(1);
    expect(jm.status).toBe("STOPPING");
    const notified = gateway.calls.filter((c) => c.startsWith("notifyCheckpointComplete"));
    const firstCancel = gateway.calls.findIndex((c) => c.startsWith("cancelTask"));
    expect(notified).toHaveLength(3);
    expect(gateway.calls.lastIndexOf(notified.at(-1)!)).toBeLessThan(firstCancel);
    cancelAll();
    await settle();
    expect(jm.status).toBe("FINISHED");
    expect(stop.value?.path).toMatch(new RegExp(`^${join(dir, "sp", `savepoint-${JOB.slice(0, 6)}-1-`)}`));
    expect(Object.keys(jm.record.statusTimestamps)).toEqual(["CREATED", "RUNNING", "STOPPING", "FINISHED"]);
    expect(readSavepoint(stop.value!.path).metadata.isSavepoint).toBe(true);
  });

  it("a failed savepoint leaves the job RUNNING, and a task failure during the savepoint fails the stop", async () => {
    startJob();
    await settle();
    runAll();
    const file = join(dir, "file");
    writeFileSync(file, "x");
    const unwritable = outcome(jm.stopWithSavepoint(join(file, "sp"), { type: "stop" }));
    await settle();
    expect(unwritable.error?.code).toBe("CHECKPOINT_STORAGE_FAILED");
    expect(jm.status).toBe("RUNNING");

    const stop = outcome(jm.stopWithSavepoint(join(dir, "sp"), { type: "stop" }));
    await jm.checkpointCoordinator.whenIdle();
    jm.updateTaskState({ taskmanagerId: "tm-b", executionId: id("v2", 1, 0), jobId: JOB, state: "FAILED", errorCode: "TASK_FAILED", errorMessage: "boom" });
    await settle();
    expect(jm.status).toBe("RESTARTING");
    expect(stop.error?.message).toMatch(/^savepoint 2 was aborted: a task of the job failed/);
  });

  it("refuses savepoints and stops of a job that is not RUNNING", async () => {
    startJob();
    expect(() => jm.triggerSavepoint(dir)).toThrow(new RiffleError("JOB_NOT_RUNNING", `job ${JOB} is CREATED; only a RUNNING job can have a savepoint taken`));
    expect(() => jm.stopWithSavepoint(dir, { type: "rescale", graph: rescaled(3) })).toThrow(/only a RUNNING job can be rescaled/);
  });

  it("cancel-with-savepoint ends CANCELED", async () => {
    startJob({});
    await settle();
    runAll();
    const cancel = outcome(jm.stopWithSavepoint(join(dir, "sp"), { type: "cancel" }));
    await acknowledge(1);
    expect(jm.status).toBe("CANCELLING");
    cancelAll();
    await settle();
    expect(jm.status).toBe("CANCELED");
    expect(cancel.value?.id).toBe(1);
  });

  it("rescales: savepoint, RESCALING, every task cancelled, redeployed at the new parallelism from the savepoint", async () => {
    startJob();
    await settle();
    runAll();
    await advance(1_000);
    await acknowledge(1);
    const rescale = outcome(jm.stopWithSavepoint(join(dir, "sp"), { type: "rescale", graph: rescaled(3, { checkpointing: { intervalMs: 1_000 } }) }));
    await acknowledge(2);
    expect(jm.status).toBe("RESCALING");
    expect(gateway.cancelled.sort()).toEqual([id("v1", 0, 0), id("v2", 0, 0), id("v2", 1, 0)]);
    cancelAll();
    await settle();
    expect(jm.status).toBe("RUNNING");
    const savepoint = rescale.value!;
    expect(savepoint.id).toBe(2);
    expect(jm.graph.vertices.map((v) => v.parallelism)).toEqual([1, 3]);
    expect(jm.numRestarts).toBe(0);
    const redeployed = gateway.deployed.filter((d) => d.attempt === 1);
    expect(redeployed.map((d) => `${d.vertexId}/${d.subtaskIndex} of ${d.parallelism}`)).toEqual(["v1/0 of 1", "v2/0 of 3", "v2/1 of 3", "v2/2 of 3"]);
    const restore = (i: number) => JSON.parse(redeployed[i]!.restoreJson) as TaskRestore;
    expect(restore(1).baseDir).toBe(savepoint.path);
    // New subtask 1 owns key groups 43..85: both old subtasks' state.
    expect(restore(2).operators[0]!.keyed.map((h) => h.path)).toEqual(["v2-0-2.state", "v2-1-2.state"]);
    expect(restore(2).operators[0]!.oldParallelism).toBe(2);
    expect(jm.checkpointCoordinator.stats.snapshot().latest.restored).toMatchObject({ id: 2, externalPath: savepoint.path });

    // A failure before a checkpoint of the new parallelism restores the savepoint, not checkpoint 1.
    runAll();
    update(id("v2", 2, 1), "FAILED");
    cancelAll();
    await advance(60_000);
    await settle();
    const again = gateway.deployed.filter((d) => d.attempt === 2);
    expect(again).toHaveLength(4);
    expect((JSON.parse(again[0]!.restoreJson) as TaskRestore).baseDir).toBe(savepoint.path);
  });

  it("a rescale the cluster has no slots for goes back to the previous parallelism from the savepoint, and the rescale fails", async () => {
    startJob();
    await settle();
    runAll();
    const rescale = outcome(jm.stopWithSavepoint(join(dir, "sp"), { type: "rescale", graph: rescaled(4, { checkpointing: { intervalMs: 1_000 } }) }));
    await acknowledge(1);
    cancelAll();
    await settle();
    expect(jm.status).toBe("RESCALING");
    expect(jm.graph.vertices.map((v) => v.parallelism)).toEqual([1, 4]);

    // 4 slots do not come within the slot-request timeout: back to 2, which the 3 slots can run.
    await advance(30_000);
    await settle();
    expect(rescale.error?.code).toBe("NO_RESOURCE_AVAILABLE");
    expect(rescale.error?.message).toMatch(/job needs 4 slots but only 3 are free .*; job .* goes back to its previous parallelism from savepoint .*sp/);
    expect(jm.status).toBe("RUNNING");
    expect(jm.numRestarts).toBe(0);
    expect(jm.graph.vertices.map((v) => v.parallelism)).toEqual([1, 2]);
    const redeployed = gateway.deployed.filter((d) => d.attempt === 1);
    expect(redeployed.map((d) => `${d.vertexId}/${d.subtaskIndex} of ${d.parallelism}`)).toEqual(["v1/0 of 1", "v2/0 of 2", "v2/1 of 2"]);
    const savepoint = jm.checkpointCoordinator.restoreBase!;
    expect(savepoint.id).toBe(1);
    expect((JSON.parse(redeployed[0]!.restoreJson) as TaskRestore).baseDir).toBe(savepoint.path);
  });

  it("a job submitted from a savepoint restores it at its first deployment, and again after a failure without a checkpoint of its own", async () => {
    const spDir = join(dir, "moved-savepoint");
    mkdirSync(spDir, { recursive: true });
    writeFileSync(join(spDir, "v1-0.state"), "x");
    const savepoint: CompletedCheckpoint = {
      id: 9,
      path: spDir,
      timestamp: 1,
      metadata: {
        version: 1,
        jobId: "another-job",
        jobName: "old",
        checkpointId: 9,
        timestamp: 1,
        isSavepoint: true,
        maxParallelism: 128,
        operators: [
          {
            uid: "source-1",
            parallelism: 1,
            maxParallelism: 128,
            subtasks: [{ keyed: [], operator: [{ kind: "operator", path: "v1-0.state", size: 1, states: {} }] }],
          },
        ],
      },
    };
    startJob({ checkpointing: { intervalMs: 1_000 }, restartStrategy: { type: "fixed-delay", attempts: 3, delayMs: 0 } }, savepoint);
    await settle();
    const first = gateway.deployed.filter((d) => d.attempt === 0);
    expect(JSON.parse(first[0]!.restoreJson)).toEqual({
      checkpointId: 9,
      baseDir: spDir,
      retainedUpTo: 9,
      operators: [{ uid: "source-1", keyed: [], operator: [{ kind: "operator", path: "v1-0.state", size: 1, states: {} }], oldParallelism: 1 }],
    });
    expect(JSON.parse(first[1]!.restoreJson)).toEqual({ checkpointId: 9, baseDir: spDir, retainedUpTo: 9, operators: [] });
    runAll();
    await advance(1_000);
    // Ids continue after the savepoint's: output named by checkpoint id never collides with the old job's.
    expect(gateway.triggered[0]?.checkpointId).toBe(10);
    update(id("v2", 0, 0), "FAILED");
    cancelAll();
    await advance(0);
    await settle();
    expect(JSON.parse(gateway.deployed.filter((d) => d.attempt === 1)[0]!.restoreJson).baseDir).toBe(spDir);
  });
});
