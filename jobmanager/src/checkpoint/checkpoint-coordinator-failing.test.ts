import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CoordinatorHarness, MAP0, MAP1, SRC } from "../testing/checkpoint-harness.js";
import { TEST_JOB_ID } from "../testing/fixtures.js";

describe("CheckpointCoordinator: failing", async () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "riffle-chk-fail-"));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const failure = (h: CoordinatorHarness) => h.coordinator.stats.snapshot().latest.failed;

  it("aborts a checkpoint that times out: notifies the tasks, deletes its directory, counts it", async () => {
    const h = new CoordinatorHarness(dir, { timeoutMs: 5_000, tolerableFailures: 1 });
    const p = (await h.coordinator.triggerCheckpoint())!;
    h.ack(1, SRC);
    await h.advance(4_999);
    expect(p.status).toBe("PENDING");
    await h.advance(1);
    await h.coordinator.whenIdle();
    expect(p.status).toBe("FAILED");
    expect(failure(h)).toMatchObject({
      id: 1,
      status: "FAILED",
      failureReason: "TIMEOUT",
      failureMessage: "checkpoint 1 expired after 5000 ms with 1 of 3 tasks acknowledged; still waiting for Map -> Sink (1/2), Map -> Sink (2/2)",
      failureTimestamp: h.clock.now(),
    });
    expect(h.gateway.aborted.map((n) => [n.executionId, n.checkpointId])).toEqual([
      [SRC, 1],
      [MAP0, 1],
      [MAP1, 1],
    ]);
    expect(existsSync(p.dir)).toBe(false);
    expect(h.jobFailures).toEqual([]);
    expect(h.coordinator.stats.snapshot().counts).toMatchObject({ total: 1, failed: 1, completed: 0 });
  });

  it("aborts a checkpoint a task declines, with the task's reason", async () => {
    const h = new CoordinatorHarness(dir, { tolerableFailures: 1 });
    const p = (await h.coordinator.triggerCheckpoint())!;
    h.decline(1, MAP0, "STATE_BACKEND_FAILED", "no space left on device");
    expect(p.status).toBe("FAILED");
    expect(failure(h)).toMatchObject({
      failureReason: "DECLINED",
      failureMessage: "Map -> Sink (1/2) declined checkpoint 1: STATE_BACKEND_FAILED: no space left on device",
    });
    expect(h.gateway.aborted).toHaveLength(3);
    h.decline(1, MAP1);
    expect(h.coordinator.stats.snapshot().counts.failed).toBe(1);
  });

  it("fails the job once more checkpoints fail in a row than tolerated; a completed one resets the count", async () => {
    const h = new CoordinatorHarness(dir, { tolerableFailures: 1 });
    await h.coordinator.triggerCheckpoint();
    h.decline(1, SRC);
    await h.coordinator.triggerCheckpoint();
    await h.ackAll(2);
    await h.coordinator.triggerCheckpoint();
    h.decline(3, SRC);
    expect(h.jobFailures).toEqual([]);
    await h.coordinator.triggerCheckpoint();
    h.decline(4, MAP1);
    expect(h.jobFailures).toEqual([
      {
        code: "CHECKPOINT_TOLERABLE_FAILURES_EXCEEDED",
        message:
          "2 checkpoints failed in a row, more than the 1 the job tolerates (execution.checkpointing.tolerable-failed-checkpoints); the last: Map -> Sink (2/2) declined checkpoint 4: CHECKPOINT_DECLINED: disk full",
      },
    ]);
  });

  it("fails a checkpoint whose directory cannot be created with STORAGE_FAILURE, and the job runs on", async () => {
    const file = join(dir, "not-a-directory");
    writeFileSync(file, "");
    const h = new CoordinatorHarness(file, { intervalMs: 1_000, tolerableFailures: 2 });
    h.coordinator.startPeriodic();
    await h.advance(1_000);
    const first = failure(h);
    expect(first).toMatchObject({ id: 1, failureReason: "STORAGE_FAILURE" });
    expect(first?.failureMessage).toContain(`checkpoint 1 failed: cannot create the directory of checkpoint 1 (${join(file, TEST_JOB_ID, "chk-1")})`);
    expect(first?.failureMessage).toContain("check that state.checkpoints.dir is writable");
    expect(h.gateway.triggered).toEqual([]);
    expect(h.jobFailures).toEqual([]);
    await h.advance(1_000);
    expect(h.jobFailures).toEqual([]);
    expect(h.coordinator.stats.snapshot().counts).toMatchObject({ total: 2, failed: 2 });
    await h.advance(1_000);
    expect(h.jobFailures.map((f) => f.code)).toEqual(["CHECKPOINT_TOLERABLE_FAILURES_EXCEEDED"]);
  });

  it("fails a checkpoint whose _metadata cannot be written with STORAGE_FAILURE and keeps the earlier one", async () => {
    const h = new CoordinatorHarness(dir, { tolerableFailures: 1 });
    await h.coordinator.triggerCheckpoint();
    await h.ackAll(1);
    const p = (await h.coordinator.triggerCheckpoint())!;
    h.ack(2, SRC);
    h.ack(2, MAP0);
    // Block the directory before the last acknowledgement: that one starts the asynchronous
    // _metadata write, which would race with the removal.
    const last = h.snapshotOf(MAP1, p.dir);
    rmSync(p.dir, { recursive: true });
    writeFileSync(p.dir, "in the way");
    h.ack(2, MAP1, last);
    await h.coordinator.whenIdle();
    expect(failure(h)).toMatchObject({ id: 2, failureReason: "STORAGE_FAILURE" });
    expect(failure(h)?.failureMessage).toContain("cannot write");
    expect(h.coordinator.latestCompleted?.id).toBe(1);
    expect(existsSync(join(dir, TEST_JOB_ID, "chk-1", "_metadata"))).toBe(true);
    expect(h.jobFailures).toEqual([]);
  });

  it("fails a checkpoint acknowledged with unreadable state", async () => {
    const h = new CoordinatorHarness(dir, { tolerableFailures: 1 });
    await h.coordinator.triggerCheckpoint();
    h.ack(1, MAP0, JSON.stringify({ operators: [{ uid: "map-2", keyed: [{ path: "../escape", keyGroupRange: { start: 0, end: 63 }, size: 1 }] }] }));
    expect(failure(h)).toMatchObject({ failureReason: "INVALID_ACKNOWLEDGEMENT" });
    expect(failure(h)?.failureMessage).toMatch(
      /^Map -> Sink \(1\/2\) acknowledged checkpoint 1 with unreadable state: .*must be a path inside the checkpoint directory/,
    );
  });

  it("aborts without counting when the job stops, a trigger does not arrive, or a task finishes first", async () => {
    const h = new CoordinatorHarness(dir, { tolerableFailures: 0 });
    await h.coordinator.triggerCheckpoint();
    h.coordinator.stop("TASK_FAILURE");
    expect(failure(h)).toMatchObject({ id: 1, failureReason: "TASK_FAILURE" });
    expect(h.gateway.aborted).toEqual([]);

    h.gateway.failTriggerOf.add(SRC);
    await h.coordinator.triggerCheckpoint();
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(failure(h)).toMatchObject({ id: 2, failureReason: "TRIGGER_FAILURE" });
    expect(failure(h)?.failureMessage).toBe("could not trigger checkpoint 2 at Source (1/1) (tm-a:1): connection refused");
    h.gateway.failTriggerOf.clear();

    await h.coordinator.triggerCheckpoint();
    h.ack(3, MAP0);
    h.coordinator.taskFinished(MAP0);
    expect(h.coordinator.pendingCheckpoint?.id).toBe(3);
    h.coordinator.taskFinished(MAP1);
    expect(failure(h)).toMatchObject({
      id: 3,
      failureReason: "TASK_FINISHED",
      failureMessage: "Map -> Sink (2/2) finished before it acknowledged checkpoint 3",
    });
    expect(h.jobFailures).toEqual([]);
  });
});
