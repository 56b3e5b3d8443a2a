import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RiffleError } from "@riffle/shared";
import { ListStateDescriptor } from "@riffle/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OperatorStateHandle } from "../handles.js";
import { OperatorStateBackend } from "./operator-backend.js";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "riffle-opstate-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Two old subtasks of a source: split "splits" and union "watermarks". */
async function oldSnapshots(dir: string): Promise<OperatorStateHandle[]> {
  const handles: OperatorStateHandle[] = [];
  for (let subtask = 0; subtask < 2; subtask++) {
    const b = new OperatorStateBackend({ subtaskIndex: subtask, parallelism: 2 });
    const splits = b.getListState<{ file: string; offset: number }>("splits");
    splits.addAll([0, 1, 2].map((i) => ({ file: `f${subtask}-${i}`, offset: i * 100 })));
    b.getUnionListState(new ListStateDescriptor<number>("watermarks")).add(1000 + subtask);
    const capture = b.snapshot();
    // Changes after the capture are not in it.
    splits.add({ file: "late", offset: 0 });
    handles.push(await capture.write(dir));
  }
  return handles;
}

describe("operator state backend", () => {
  it("snapshots each list with its mode", async () => {
    const dir = join(root, "modes");
    const [h0] = await oldSnapshots(dir);
    expect(h0).toMatchObject({
      kind: "operator",
      path: "operator-0.msgpack",
      states: { splits: { mode: "split", count: 3 }, watermarks: { mode: "union", count: 1 } },
    });
    expect(h0!.size).toBeGreaterThan(0);
  });

  it("restores at the same parallelism: each subtask gets its own lists, and all of the union", async () => {
    const dir = join(root, "same");
    const handles = await oldSnapshots(dir);
    const b = new OperatorStateBackend({ subtaskIndex: 1, parallelism: 2 });
    await b.restore(dir, handles);
    expect(b.getListState("splits").get()).toEqual([0, 1, 2].map((i) => ({ file: `f1-${i}`, offset: i * 100 })));
    expect(b.getUnionListState("watermarks").get()).toEqual([1000, 1001]);
  });

  it("restores at another parallelism by even split and union", async () => {
    const dir = join(root, "rescale");
    const handles = await oldSnapshots(dir);
    const files: string[][] = [];
    for (let subtask = 0; subtask < 4; subtask++) {
      const b = new OperatorStateBackend({ subtaskIndex: subtask, parallelism: 4 });
      await b.restore(dir, handles);
      files.push(
        b
          .getListState<{ file: string }>("splits")
          .get()
          .map((s) => s.file),
      );
      expect(b.getUnionListState("watermarks").get()).toEqual([1000, 1001]);
    }
    expect(files).toEqual([["f0-0", "f0-1"], ["f0-2", "f1-0"], ["f1-1"], ["f1-2"]]);
  });

  it("refuses a list asked for with the other mode", async () => {
    const dir = join(root, "mode-mismatch");
    const handles = await oldSnapshots(dir);
    const b = new OperatorStateBackend({ subtaskIndex: 0, parallelism: 1 });
    await b.restore(dir, handles);
    expect(() => b.getListState("watermarks")).toThrow(/union list state/);
    expect(() => b.getUnionListState("splits")).toThrow(/getListState/);
  });

  it("refuses missing and corrupt files", async () => {
    const dir = join(root, "bad");
    const handles = await oldSnapshots(dir);
    const b = new OperatorStateBackend({ subtaskIndex: 0, parallelism: 1 });
    await expect(b.restore(dir, [{ ...handles[0]!, path: "gone.msgpack" }])).rejects.toThrow(/file not found/);
    await writeFile(join(dir, handles[1]!.path), Buffer.alloc(handles[1]!.size, 0xc1));
    const err = await b.restore(dir, handles).catch((e: RiffleError) => e);
    expect((err as RiffleError).code).toBe("STATE_RESTORE_FAILED");
  });
});
