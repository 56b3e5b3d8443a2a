import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CoordinatorHarness, MAP0, MAP1, SRC } from "../testing/checkpoint-harness.js";
import { testStores } from "../testing/test-stores.js";
import { TEST_JOB_ID } from "../testing/fixtures.js";

describe("CheckpointCoordinator: triggering", async () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "riffle-chk-trigger-"));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("triggers every interval at the running sources, into an absolute chk-<n> directory it created", async () => {
    const h = new CoordinatorHarness(dir, { intervalMs: 1_000 });
    h.coordinator.startPeriodic();
    await h.advance(999);
    expect(h.gateway.triggered).toEqual([]);
    await h.advance(1);
    const targetDir = join(dir, TEST_JOB_ID, "chk-1");
    expect(h.gateway.triggered).toEqual([{ jobId: TEST_JOB_ID, executionId: SRC, checkpointId: 1, timestamp: h.clock.now(), isSavepoint: false, targetDir }]);
    expect(isAbsolute(targetDir) && existsSync(targetDir)).toBe(true);
    expect(h.coordinator.pendingCheckpoint?.waitingTasks().map((t) => t.executionId)).toEqual([SRC, MAP0, MAP1]);
    expect(await h.stores.counter.get()).toBe(2);
    expect(await h.stores.checkpoints.getAll()).toEqual([]);

    await h.ackAll(1);
    await h.advance(1_000);
    expect(h.gateway.triggered.map((t) => t.checkpointId)).toEqual([1, 2]);
  });

  it("keeps at most one checkpoint in flight", async () => {
    const h = new CoordinatorHarness(dir, { intervalMs: 1_000 });
    h.coordinator.startPeriodic();
    await h.advance(10_000);
    expect(h.gateway.triggered.map((t) => t.checkpointId)).toEqual([1]);
    expect(await h.coordinator.triggerCheckpoint()).toBeUndefined();
  });

  it("starts the next checkpoint no sooner than the minimum pause after the previous one ended", async () => {
    const h = new CoordinatorHarness(dir, { intervalMs: 1_000, minPauseMs: 500 });
    h.coordinator.startPeriodic();
    await h.advance(1_000); // chk-1 at t=1000
    await h.advance(800);
    await h.ackAll(1); // ends at t=1800: the interval allows 2000, the pause 2300
    await h.advance(499);
    expect(h.gateway.triggered).toHaveLength(1);
    await h.advance(1);
    expect(h.gateway.triggered.map((t) => t.checkpointId)).toEqual([1, 2]); // t=2300
    await h.advance(100);
    await h.ackAll(2); // ends at t=2400: the interval allows 3300, the pause 2900
    await h.advance(899);
    expect(h.gateway.triggered).toHaveLength(2);
    await h.advance(1);
    expect(h.gateway.triggered.map((t) => t.checkpointId)).toEqual([1, 2, 3]);
  });

  it("waits while a source is not running yet, without using an id, and looks again an interval later", async () => {
    const h = new CoordinatorHarness(dir, { intervalMs: 1_000 });
    h.task(SRC).status = "other";
    h.coordinator.startPeriodic();
    await h.advance(1_000);
    expect(h.gateway.triggered).toEqual([]);
    expect(await h.stores.counter.get()).toBe(1);
    h.task(SRC).status = "running";
    await h.advance(1_000);
    expect(h.gateway.triggered.map((t) => [t.checkpointId, t.executionId])).toEqual([[1, SRC]]);
  });

  it("stops triggering when stopped and resumes an interval after startPeriodic", async () => {
    const h = new CoordinatorHarness(dir, { intervalMs: 1_000 });
    h.coordinator.startPeriodic();
    h.coordinator.stop("JOB_STOPPING");
    await h.advance(5_000);
    expect(h.gateway.triggered).toEqual([]);
    h.coordinator.startPeriodic();
    await h.advance(1_000);
    expect(h.gateway.triggered).toHaveLength(1);
  });

  it("triggers nothing once every source has finished", async () => {
    const h = new CoordinatorHarness(dir);
    h.task(SRC).status = "finished";
    expect(await h.coordinator.triggerCheckpoint()).toBeUndefined();
    expect(h.gateway.triggered).toEqual([]);
    expect(await h.stores.counter.get()).toBe(1);
  });

  it("continues the checkpoint ids of the job's counter", async () => {
    const stores = testStores(undefined);
    await stores.counter.setCount(42);
    const h = new CoordinatorHarness(dir, {}, { stores });
    expect((await h.coordinator.triggerCheckpoint())?.id).toBe(42);
    expect(h.gateway.triggered[0]?.targetDir).toBe(join(dir, TEST_JOB_ID, "chk-42"));
    expect(await stores.counter.get()).toBe(43);
  });
});
