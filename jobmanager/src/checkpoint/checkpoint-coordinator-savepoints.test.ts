import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RiffleError, CheckpointMetadata } from "@riffle/shared";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CoordinatorHarness, MAP0, MAP1, SRC } from "../testing/checkpoint-harness.js";
import { TEST_JOB_ID } from "../testing/fixtures.js";
import { testStores } from "../testing/test-stores.js";
import type { CompletedCheckpoint } from "./checkpoint-coordinator.js";

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The outcome of a promise that may not have settled yet. */
function track<T>(promise: Promise<T>): { value?: T; error?: RiffleError; settled: boolean } {
  const state: { value?: T; error?: RiffleError; settled: boolean } = { settled: false };
  promise.then(
    (value) => Object.assign(state, { value, settled: true }),
    (error: RiffleError) => Object.assign(state, { error, settled: true }),
  );
  return state;
}

describe("CheckpointCoordinator: savepoints", async () => {
  let dir: string;
  let target: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "riffle-chk-savepoint-"));
    target = join(dir, "savepoints");
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("takes a savepoint into its own directory under the target, sharing the id counter; it is not the latest checkpoint", async () => {
    const h = new CoordinatorHarness(dir);
    const result = track(h.coordinator.triggerSavepoint({ targetDir: target, terminal: false }));
    await h.coordinator.whenIdle();
    const spDir = join(target, `savepoint-${TEST_JOB_ID.slice(0, 6)}-1-${h.clock.now().toString(36)}`);
    expect(h.gateway.triggered).toEqual([
      { jobId: TEST_JOB_ID, executionId: SRC, checkpointId: 1, timestamp: h.clock.now(), isSavepoint: true, targetDir: spDir },
    ]);
    await h.ackAll(1);
    await settle();
    expect(result.value).toMatchObject({ id: 1, path: spDir });
    const metadata = JSON.parse(readFileSync(join(spDir, "_metadata"), "utf8")) as CheckpointMetadata;
    expect(metadata).toMatchObject({ checkpointId: 1, isSavepoint: true, operators: [{ uid: "source-1" }, { uid: "map-2" }] });
    // An intermediate savepoint commits nothing and is not restored by a restart.
    expect(h.gateway.completed).toEqual([]);
    expect(await h.coordinator.restoreLatest()).toBeUndefined();
    expect(await h.stores.counter.get()).toBe(2);
    expect(await h.stores.checkpoints.getAll()).toEqual([]);
    expect(h.savepointsRecorded).toEqual([1]);
    expect(h.coordinator.stats.snapshot().history[0]).toMatchObject({ id: 1, isSavepoint: true, status: "COMPLETED", externalPath: spDir });

    // Retention never deletes it.
    for (let n = 2; n <= 6; n++) {
      await h.coordinator.triggerCheckpoint();
      await h.ackAll(n);
    }
    expect(existsSync(join(spDir, "_metadata"))).toBe(true);
    expect((await h.coordinator.restoreLatest())?.id).toBe(6);
  });

  it("a restart goes back to the checkpoint before an intermediate savepoint, and says the savepoint is retained", async () => {
    const h = new CoordinatorHarness(dir, { intervalMs: 1_000 });
    await h.coordinator.triggerCheckpoint();
    await h.ackAll(1);
    expect(h.coordinator.retainedUpTo).toBe(1);
    const savepoint = track(h.coordinator.triggerSavepoint({ targetDir: target, terminal: false }));
    await h.ackAll(2);
    await settle();
    expect(savepoint.value?.id).toBe(2);
    await h.coordinator.triggerCheckpoint(); // checkpoint 3 never completes: a task fails
    h.coordinator.stop("TASK_FAILURE");
    // Sinks restored from checkpoint 1 must keep what they staged up to savepoint 2, not what they staged for 3.
    expect((await h.coordinator.restoreLatest())?.id).toBe(1);
    expect(h.coordinator.retainedUpTo).toBe(2);
    // A JobManager that takes the job over from its record knows it too.
    expect(h.savepointsRecorded.at(-1)).toBe(2);
    const successor = new CoordinatorHarness(dir, { intervalMs: 1_000 }, { stores: h.stores, newestSavepointId: 2 });
    expect(successor.coordinator.retainedUpTo).toBe(2);
  });

  it("waits for the checkpoint in flight, then goes before the next periodic one", async () => {
    const h = new CoordinatorHarness(dir, { intervalMs: 1_000 });
    h.coordinator.startPeriodic();
    await h.advance(1_000);
    const result = track(h.coordinator.triggerSavepoint({ targetDir: target, terminal: false }));
    expect(h.gateway.triggered.map((t) => [t.checkpointId, t.isSavepoint])).toEqual([[1, false]]);
    await h.advance(5_000);
    expect(h.gateway.triggered).toHaveLength(1);
    await h.ackAll(1);
    expect(h.gateway.triggered.map((t) => [t.checkpointId, t.isSavepoint])).toEqual([
      [1, false],
      [2, true],
    ]);
    await h.ackAll(2);
    await settle();
    expect(result.value?.id).toBe(2);
    await h.advance(1_000);
    expect(h.gateway.triggered.map((t) => [t.checkpointId, t.isSavepoint])).toEqual([
      [1, false],
      [2, true],
      [3, false],
    ]);
  });

  it("fails a savepoint whose directory cannot be created with CHECKPOINT_STORAGE_FAILED, without counting it or touching the checkpoints", async () => {
    const h = new CoordinatorHarness(dir, { intervalMs: 1_000, tolerableFailures: 0 });
    h.coordinator.startPeriodic();
    await h.advance(1_000);
    await h.ackAll(1);
    const file = join(dir, "a-file");
    writeFileSync(file, "x");
    const result = track(h.coordinator.triggerSavepoint({ targetDir: join(file, "savepoints"), terminal: false }));
    await settle();
    expect(result.error?.code).toBe("CHECKPOINT_STORAGE_FAILED");
    expect(result.error?.message).toContain(`cannot create the savepoint directory ${join(file, "savepoints")}`);
    expect(h.jobFailures).toEqual([]);
    expect(existsSync(join(h.jobDir, "chk-1", "_metadata"))).toBe(true);
    expect(readFileSync(file, "utf8")).toBe("x");
    await h.advance(1_000);
    expect(h.gateway.triggered.map((t) => [t.checkpointId, t.isSavepoint])).toEqual([
      [1, false],
      [3, false],
    ]);
  });

  it("refuses a savepoint while a source is not running, with the reason", async () => {
    const h = new CoordinatorHarness(dir);
    h.task(SRC).status = "other";
    const result = track(h.coordinator.triggerSavepoint({ targetDir: target, terminal: false }));
    await settle();
    expect(result.error?.code).toBe("SAVEPOINT_FAILED");
    expect(result.error?.message).toBe("cannot take a savepoint of job test-job now: Source (1/1) is not running yet");
    expect(h.savepointsRecorded).toEqual([]);
  });

  it("fails a savepoint a task declines, and tells the others", async () => {
    const h = new CoordinatorHarness(dir);
    const result = track(h.coordinator.triggerSavepoint({ targetDir: target, terminal: false }));
    await h.coordinator.whenIdle();
    h.ack(1, SRC);
    h.decline(1, MAP0);
    await settle();
    expect(result.error?.code).toBe("SAVEPOINT_FAILED");
    expect(result.error?.message).toBe("Map -> Sink (1/2) declined savepoint 1: CHECKPOINT_DECLINED: disk full");
    expect(h.gateway.aborted.map((n) => n.executionId).sort()).toEqual([MAP0, MAP1, SRC].sort());
  });

  it("a terminal savepoint stops periodic checkpoints, notifies every task before it resolves, and becomes what restarts restore", async () => {
    const h = new CoordinatorHarness(dir, { intervalMs: 1_000 });
    h.coordinator.startPeriodic();
    await h.advance(1_000);
    await h.ackAll(1);
    const result = track(h.coordinator.triggerSavepoint({ targetDir: target, terminal: true }));
    const other = track(h.coordinator.triggerSavepoint({ targetDir: target, terminal: false }));
    await settle();
    expect(other.error?.code).toBe("OPERATION_IN_PROGRESS");
    h.ack(2, SRC);
    h.ack(2, MAP0);
    await h.advance(10_000);
    expect(h.gateway.triggered.map((t) => t.checkpointId)).toEqual([1, 2]);
    h.ack(2, MAP1);
    await h.coordinator.whenIdle();
    await settle();
    expect(h.gateway.completed.filter((n) => n.checkpointId === 2).map((n) => n.executionId)).toEqual([SRC, MAP0, MAP1]);
    expect(result.value?.id).toBe(2);
    await h.advance(10_000);
    expect(h.gateway.triggered.map((t) => t.checkpointId)).toEqual([1, 2]);
    // Its output is committed: a restart must not go back to checkpoint 1.
    expect(await h.coordinator.restoreLatest()).toMatchObject({ id: 2, path: result.value!.path });
    expect(h.coordinator.restoreBase?.id).toBe(2);
    h.coordinator.stop("JOB_STOPPING");
    h.coordinator.startPeriodic();
    await h.advance(1_000);
    await h.ackAll(3);
    expect((await h.coordinator.restoreLatest())?.id).toBe(3);
  });

  it("a terminal savepoint that fails lets periodic checkpoints go on", async () => {
    const h = new CoordinatorHarness(dir, { intervalMs: 1_000 });
    h.coordinator.startPeriodic();
    const result = track(h.coordinator.triggerSavepoint({ targetDir: target, terminal: true }));
    await h.coordinator.whenIdle();
    h.decline(1, MAP1);
    await settle();
    expect(result.error?.code).toBe("SAVEPOINT_FAILED");
    await h.advance(1_000);
    expect(h.gateway.triggered.map((t) => [t.checkpointId, t.isSavepoint])).toEqual([
      [1, true],
      [2, false],
    ]);
  });

  it("fails the savepoint in flight and the queued ones when the job stops", async () => {
    const h = new CoordinatorHarness(dir);
    const first = track(h.coordinator.triggerSavepoint({ targetDir: target, terminal: false }));
    const queued = track(h.coordinator.triggerSavepoint({ targetDir: target, terminal: false }));
    await h.coordinator.whenIdle();
    h.coordinator.stop("TASK_FAILURE");
    await settle();
    expect(first.error?.message).toBe("savepoint 1 was aborted: a task of the job failed");
    expect(queued.error?.message).toBe("the savepoint was not taken: a task of the job failed");
    expect(h.gateway.triggered).toHaveLength(1);
  });

  it("takes savepoints of a job without checkpoints, and no periodic checkpoints", async () => {
    const h = new CoordinatorHarness(dir, null);
    h.coordinator.startPeriodic();
    await h.advance(60_000);
    expect(h.gateway.triggered).toEqual([]);
    const result = track(h.coordinator.triggerSavepoint({ targetDir: target, terminal: false }));
    await h.ackAll(1);
    await settle();
    expect(result.value?.metadata.isSavepoint).toBe(true);
  });

  it("refuses a savepoint when a finished task's state is in no checkpoint", async () => {
    const h = new CoordinatorHarness(dir, null);
    h.task(MAP1).status = "finished";
    const result = track(h.coordinator.triggerSavepoint({ targetDir: target, terminal: false }));
    await settle();
    expect(result.error?.message).toBe("cannot take a savepoint of job test-job: Map -> Sink (2/2) finished and no completed checkpoint holds its final state");
  });

  it("restores the savepoint it started from until a checkpoint of its own completed, and continues its ids", async () => {
    const base: CompletedCheckpoint = {
      id: 41,
      path: join(dir, "elsewhere"),
      timestamp: 5,
      metadata: { version: 1, jobId: "other", jobName: "x", checkpointId: 41, timestamp: 5, isSavepoint: true, maxParallelism: 128, operators: [] },
    };
    const stores = testStores(undefined);
    await stores.counter.setCount(42);
    const h = new CoordinatorHarness(dir, {}, { base, stores });
    expect(await h.coordinator.restoreLatest()).toBe(base);
    expect(h.coordinator.stats.snapshot().latest.restored).toMatchObject({ id: 41, externalPath: base.path });
    expect((await h.coordinator.triggerCheckpoint())?.id).toBe(42);
    await h.ackAll(42);
    expect((await h.coordinator.restoreLatest())?.id).toBe(42);
  });
});
