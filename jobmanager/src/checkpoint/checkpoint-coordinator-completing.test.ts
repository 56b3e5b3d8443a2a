import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CheckpointMetadata } from "@riffle/shared";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CoordinatorHarness, MAP0, MAP1, SRC } from "../testing/checkpoint-harness.js";
import { TEST_JOB_ID } from "../testing/fixtures.js";

const readMetadata = (chkDir: string) => JSON.parse(readFileSync(join(chkDir, "_metadata"), "utf8")) as CheckpointMetadata;

describe("CheckpointCoordinator: completing", async () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "riffle-chk-complete-"));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("completes once every task acknowledged: writes _metadata, records the pointer and notifies every task", async () => {
    const h = new CoordinatorHarness(dir);
    const p = (await h.coordinator.triggerCheckpoint())!;
    h.ack(1, SRC);
    h.ack(1, MAP0);
    await h.coordinator.whenIdle();
    expect(p.status).toBe("PENDING");
    expect(existsSync(join(p.dir, "_metadata"))).toBe(false);
    await h.advance(250);
    h.ack(1, MAP1);
    await h.coordinator.whenIdle();

    expect(p.status).toBe("COMPLETED");
    expect(readdirSync(p.dir).sort()).toEqual(["_metadata", "map-2", "source-1"]);
    expect(readMetadata(p.dir)).toEqual({
      version: 1,
      jobId: TEST_JOB_ID,
      jobName: "test-job",
      checkpointId: 1,
      timestamp: p.timestamp,
      isSavepoint: false,
      maxParallelism: 128,
      operators: [
        {
          uid: "source-1",
          parallelism: 1,
          maxParallelism: 128,
          subtasks: [{ keyed: [], operator: [{ path: "source-1/0.op", size: 14, states: { offsets: { mode: "split", count: 1 } } }] }],
        },
        {
          uid: "map-2",
          parallelism: 2,
          maxParallelism: 128,
          subtasks: [
            { keyed: [{ path: "map-2/0.keyed", keyGroupRange: { start: 0, end: 63 }, size: 15 }], operator: [] },
            { keyed: [{ path: "map-2/1.keyed", keyGroupRange: { start: 64, end: 127 }, size: 15 }], operator: [] },
          ],
        },
      ],
    });
    expect(await h.stores.counter.get()).toBe(2);
    expect(await h.stores.checkpoints.getAll()).toEqual([{ id: 1, path: p.dir, timestamp: p.timestamp }]);
    expect(h.gateway.completed).toEqual([SRC, MAP0, MAP1].map((executionId) => ({ jobId: TEST_JOB_ID, executionId, checkpointId: 1 })));
    expect(h.coordinator.latestCompleted).toMatchObject({ id: 1, path: p.dir });

    const stats = h.coordinator.stats.snapshot();
    expect(stats.counts).toEqual({ restored: 0, total: 1, inProgress: 0, completed: 1, failed: 0 });
    expect(stats.latest.completed).toMatchObject({
      id: 1,
      status: "COMPLETED",
      stateSize: 44,
      endToEndDurationMs: 250,
      alignmentDurationMs: 7,
      syncDurationMs: 3,
      asyncDurationMs: 20,
      numSubtasks: 3,
      numAcknowledged: 3,
      externalPath: p.dir,
    });
    expect(stats.summary.stateSize).toEqual({ min: 44, avg: 44, max: 44 });
  });

  it("takes the source coordinators' snapshot before it triggers the sources, stores it in _metadata, and tells them of completion", async () => {
    const calls: string[] = [];
    let release!: (states: Record<string, unknown>) => void;
    const h = new CoordinatorHarness(
      dir,
      {},
      {
        coordinators: {
          active: true,
          checkpointCoordinators: (id) => {
            calls.push(`snapshot ${id}`);
            return new Promise((resolve) => {
              release = resolve;
            });
          },
          afterSourceBarrierInjection: (id) => calls.push(`injected ${id}`),
          notifyCheckpointComplete: (id) => calls.push(`complete ${id}`),
        },
      },
    );
    const p = (await h.coordinator.triggerCheckpoint())!;
    expect(calls).toEqual(["snapshot 1"]);
    expect(h.gateway.triggered).toEqual([]);
    release({ "source-1": { assigned: ["t-0"] } });
    await h.coordinator.whenIdle();
    await new Promise((r) => setImmediate(r));
    expect(h.gateway.triggered.map((t) => t.executionId)).toEqual([SRC]);
    expect(calls).toEqual(["snapshot 1", "injected 1"]);
    await h.ackAll(1);
    expect(p.status).toBe("COMPLETED");
    expect(readMetadata(p.dir).operators.find((o) => o.uid === "source-1")?.coordinatorState).toEqual({ assigned: ["t-0"] });
    expect(calls).toEqual(["snapshot 1", "injected 1", "complete 1"]);
  });

  it("shows an in-progress checkpoint with its acknowledgements so far", async () => {
    const h = new CoordinatorHarness(dir);
    await h.coordinator.triggerCheckpoint();
    await h.advance(40);
    h.ack(1, SRC);
    const [entry] = h.coordinator.stats.snapshot().history;
    expect(entry).toMatchObject({ id: 1, status: "IN_PROGRESS", numAcknowledged: 1, numSubtasks: 3, endToEndDurationMs: 40, externalPath: null });
  });

  it("deletes checkpoints beyond the retained count only after a newer one completed, never the latest", async () => {
    const h = new CoordinatorHarness(dir, { retained: 2 });
    const chk = (n: number) => join(dir, TEST_JOB_ID, `chk-${n}`);
    for (const n of [1, 2]) {
      await h.coordinator.triggerCheckpoint();
      await h.ackAll(n);
    }
    await h.coordinator.triggerCheckpoint();
    h.decline(3, MAP0);
    await h.coordinator.whenIdle();
    expect([1, 2, 3].map((n) => existsSync(chk(n)))).toEqual([true, true, false]);

    await h.coordinator.triggerCheckpoint();
    h.ack(4, SRC);
    await h.coordinator.whenIdle();
    expect([1, 2, 4].map((n) => existsSync(chk(n)))).toEqual([true, true, true]);

    h.ack(4, MAP0);
    h.ack(4, MAP1);
    await h.coordinator.whenIdle();
    expect([1, 2, 4].map((n) => existsSync(join(chk(n), "_metadata")))).toEqual([false, true, true]);
    expect(existsSync(chk(1))).toBe(false);
    expect(h.coordinator.latestCompleted?.id).toBe(4);
  });

  it("carries a finished task's last completed state into the next checkpoint, copying its files", async () => {
    const h = new CoordinatorHarness(dir);
    await h.coordinator.triggerCheckpoint();
    await h.ackAll(1);
    h.task(MAP1).status = "finished";
    const p = (await h.coordinator.triggerCheckpoint())!;
    expect(p.waitingTasks().map((t) => t.executionId)).toEqual([SRC, MAP0]);
    await h.ackAll(2);

    expect(p.status).toBe("COMPLETED");
    expect(readFileSync(join(p.dir, "map-2/1.keyed"), "utf8")).toBe(`${MAP1} state`);
    const map = readMetadata(p.dir).operators.find((o) => o.uid === "map-2")!;
    expect(map.subtasks[1]).toEqual({ keyed: [{ path: "map-2/1.keyed", keyGroupRange: { start: 64, end: 127 }, size: 15 }], operator: [] });
    expect(h.gateway.completed.filter((n) => n.checkpointId === 2).map((n) => n.executionId)).toEqual([SRC, MAP0]);
  });

  it("ignores acknowledgements of other checkpoints, of executions it does not wait for, and repeated ones", async () => {
    const h = new CoordinatorHarness(dir);
    const p = (await h.coordinator.triggerCheckpoint())!;
    h.ack(7, SRC, "");
    h.ack(1, "e-unknown", "");
    h.ack(1, SRC);
    h.ack(1, SRC, "not even json");
    expect([p.status, p.numAcknowledged]).toEqual(["PENDING", 1]);
    h.ack(1, MAP0);
    h.ack(1, MAP1);
    await h.coordinator.whenIdle();
    expect(p.status).toBe("COMPLETED");
    h.ack(1, MAP1);
    expect(h.coordinator.stats.snapshot().counts).toMatchObject({ completed: 1, failed: 0 });
  });

  it("accepts an empty state_json as a task without state", async () => {
    const h = new CoordinatorHarness(dir);
    const p = (await h.coordinator.triggerCheckpoint())!;
    for (const id of [SRC, MAP0, MAP1]) h.ack(1, id, "");
    await h.coordinator.whenIdle();
    expect(p.status).toBe("COMPLETED");
    expect(readMetadata(p.dir).operators).toEqual([]);
  });
});
