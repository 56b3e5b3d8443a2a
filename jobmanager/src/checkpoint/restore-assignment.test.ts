import type { CheckpointMetadata, KeyedStateHandle, OperatorStateHandle } from "@riffle/shared";
import { describe, expect, it } from "vitest";
import { assignTaskRestore, overlaps } from "./restore-assignment.js";

/** Handles carry more fields for the tasks; the assignment looks only at paths and key-group ranges. */
const keyed = (path: string, start: number, end: number) => ({ kind: "keyed", path, keyGroupRange: { start, end }, size: 10 }) as unknown as KeyedStateHandle;
const operator = (path: string) => ({ kind: "operator", path, size: 5, states: {} }) as unknown as OperatorStateHandle;

/** A checkpoint of a job at parallelism 2 with max parallelism 128: key groups [0, 63] and [64, 127]. */
const metadata: CheckpointMetadata = {
  version: 1,
  jobId: "j",
  jobName: "job",
  checkpointId: 7,
  timestamp: 1,
  isSavepoint: false,
  maxParallelism: 128,
  operators: [
    {
      uid: "counts",
      parallelism: 2,
      maxParallelism: 128,
      subtasks: [
        { keyed: [keyed("s0/keyed", 0, 63)], operator: [operator("s0/op")] },
        { keyed: [keyed("s1/keyed", 64, 127)], operator: [operator("s1/op")] },
      ],
    },
    { uid: "elsewhere", parallelism: 2, maxParallelism: 128, subtasks: [] },
  ],
};

const restoreAt = (subtask: number, parallelism: number, retainedUpTo = 7) =>
  assignTaskRestore(metadata, "/checkpoints/j/chk-7", { uids: ["counts", "stateless"], subtask, parallelism, maxParallelism: 128 }, retainedUpTo);
const keyedPaths = (subtask: number, parallelism: number) => restoreAt(subtask, parallelism).operators[0]!.keyed.map((h) => h.path);

describe("restore assignment", () => {
  it("gives each of 3 new subtasks the keyed handles whose key groups overlap its range", () => {
    // New ranges: [0, 42], [43, 85], [86, 127].
    expect([0, 1, 2].map((i) => keyedPaths(i, 3))).toEqual([["s0/keyed"], ["s0/keyed", "s1/keyed"], ["s1/keyed"]]);
  });

  it("gives a single new subtask every keyed handle", () => {
    expect(keyedPaths(0, 1)).toEqual(["s0/keyed", "s1/keyed"]);
  });

  it("gives every new subtask all old operator-state handles in old-subtask order, with the old parallelism", () => {
    for (const [subtask, parallelism] of [
      [0, 3],
      [2, 3],
      [0, 1],
    ] as const) {
      const restore = restoreAt(subtask, parallelism);
      expect(restore).toMatchObject({ checkpointId: 7, baseDir: "/checkpoints/j/chk-7" });
      expect(restore.operators).toHaveLength(1);
      expect(restore.operators[0]).toMatchObject({ uid: "counts", oldParallelism: 2 });
      expect(restore.operators[0]!.operator.map((h) => h.path)).toEqual(["s0/op", "s1/op"]);
    }
  });

  it("tells the tasks the newest retained checkpoint or savepoint, never one older than the restored checkpoint", () => {
    expect(restoreAt(0, 1, 9).retainedUpTo).toBe(9);
    expect(restoreAt(0, 1, 3).retainedUpTo).toBe(7);
  });

  it("keeps the handles as the tasks wrote them", () => {
    expect(restoreAt(0, 1).operators[0]!.keyed[0]).toEqual(keyed("s0/keyed", 0, 63));
  });

  it("refuses a checkpoint of another max parallelism", () => {
    expect(() => assignTaskRestore(metadata, "/x", { uids: ["counts"], subtask: 0, parallelism: 1, maxParallelism: 256 }, 7)).toThrow(
      expect.objectContaining({ code: "CHECKPOINT_INCOMPATIBLE" }),
    );
  });

  it("treats key-group ranges as inclusive and empty ranges as overlapping nothing", () => {
    expect(overlaps({ start: 0, end: 42 }, { start: 42, end: 63 })).toBe(true);
    expect(overlaps({ start: 0, end: 41 }, { start: 42, end: 63 })).toBe(false);
    expect(overlaps({ start: 5, end: 4 }, { start: 0, end: 127 })).toBe(false);
  });
});
