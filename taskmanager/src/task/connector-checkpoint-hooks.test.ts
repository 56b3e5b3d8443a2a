import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Sink, SinkWriter, Source, SourceReader } from "@riffle/sdk";
import { SinkOperator, SourceOperator } from "@riffle/sdk/internal";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OperatorHarness } from "../joins/join-test-util.js";
import type { OperatorStateHandle } from "../state/index.js";

let root: string;
let dirs = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "riffle-hooks-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
const freshDir = () => join(root, `cp${dirs++}`);

const restoreFrom = (dir: string, operator: OperatorStateHandle[]) => ({ dir, keyed: [], operator });

/**
 * A source of offsets 0, 1, 2, … that, like a Kafka reader, remembers the offset of each snapshot and
 * "commits" it upstream when that checkpoint completes. Everything it hears is logged.
 */
class TestingOffsetSource implements Source<number> {
  readonly boundedness = "unbounded";
  readonly log: string[] = [];
  readonly committed: number[] = [];
  restoredWith: unknown[] | undefined | "not created" = "not created";
  failOnComplete: Error | undefined;

  createReader(_ctx: unknown, restored?: unknown[]): SourceReader<number> {
    this.restoredWith = restored;
    const source = this;
    let next = (restored?.[0] as { next: number } | undefined)?.next ?? 0;
    const snapshots = new Map<number, number>();
    return {
      pollNext(output, max) {
        for (let i = 0; i < max; i++) output.collect(next++);
        return "MORE_AVAILABLE";
      },
      isAvailable: () => Promise.resolve(),
      snapshotState(checkpointId) {
        snapshots.set(checkpointId, next);
        return [{ next }];
      },
      async notifyCheckpointComplete(checkpointId) {
        source.log.push(`complete ${checkpointId}`);
        if (source.failOnComplete) throw source.failOnComplete;
        const offset = snapshots.get(checkpointId);
        if (offset !== undefined) source.committed.push(offset);
        for (const id of snapshots.keys()) if (id <= checkpointId) snapshots.delete(id);
      },
      notifyCheckpointAborted(checkpointId) {
        source.log.push(`aborted ${checkpointId}`);
        snapshots.delete(checkpointId);
      },
    };
  }
}

async function openSource(source: TestingOffsetSource, restore?: ReturnType<typeof restoreFrom>): Promise<OperatorHarness & { operator: SourceOperator }> {
  const h = await OperatorHarness.open(new SourceOperator(source as Source<unknown>, undefined), { restore });
  return h as OperatorHarness & { operator: SourceOperator };
}

function poll(h: OperatorHarness & { operator: SourceOperator }, n: number): void {
  h.operator.reader!.pollNext(h.operator.readerOutput(), n);
}

describe("source reader checkpoint hooks", () => {
  it("hears of completed and aborted checkpoints with their ids, and commits the offsets of the completed one", async () => {
    const source = new TestingOffsetSource();
    const h = await openSource(source);
    expect(source.restoredWith).toBeUndefined();
    poll(h, 3);
    await h.barrier(1);
    poll(h, 2);
    await h.barrier(2);
    await h.operator.notifyCheckpointAborted(2);
    await h.operator.notifyCheckpointComplete(1);
    poll(h, 1);
    await h.barrier(3);
    await h.operator.notifyCheckpointComplete(3);
    expect(source.log).toEqual(["aborted 2", "complete 1", "complete 3"]);
    expect(source.committed).toEqual([3, 6]);
    await h.close();
  });

  it("fails the notification when the reader's hook fails, so the task fails instead of losing the error", async () => {
    const source = new TestingOffsetSource();
    const h = await openSource(source);
    source.failOnComplete = new Error("broker unreachable");
    await h.barrier(1);
    await expect(h.operator.notifyCheckpointComplete(1)).rejects.toThrow("broker unreachable");
    await h.close();
  });

  it("restores the reader from the positions of the checkpoint, and goes on from there", async () => {
    const source = new TestingOffsetSource();
    const h = await openSource(source);
    poll(h, 4);
    const dir = freshDir();
    const { operator } = await h.snapshot(1, dir);
    poll(h, 4); // replayed after the restore
    await h.close();

    const restored = await openSource(source, restoreFrom(dir, [operator]));
    expect(source.restoredWith).toEqual([{ next: 4 }]);
    poll(restored, 2);
    expect(restored.values()).toEqual([4, 5]);
    await restored.close();
  });

  it("rejects positions that are not a list, naming the reader", async () => {
    const source: Source<number> = {
      boundedness: "bounded",
      createReader: () => ({
        pollNext: () => "END_OF_INPUT",
        isAvailable: () => Promise.resolve(),
        snapshotState: () => ({ next: 1 }) as unknown as unknown[],
      }),
    };
    const h = await OperatorHarness.open(new SourceOperator(source as Source<unknown>, undefined));
    expect(() => h.operator.snapshotState(1)).toThrow(
      expect.objectContaining({ code: "STATE_INVALID_ARGUMENT", message: expect.stringMatching(/source reader/) }),
    );
    await h.close();
  });
});

/**
 * A buffering writer (no two-phase commit): records wait in a buffer, which is its checkpointed state,
 * and go out ("flushed") when a checkpoint completes. `created` records what each createWriter got.
 */
class TestingBufferingSink implements Sink<string> {
  readonly log: string[] = [];
  readonly flushed: string[] = [];
  readonly created: { subtask: number; restored: unknown[] | undefined }[] = [];

  createWriter(ctx: { subtaskIndex: number }, _services: unknown, restored?: unknown[]): SinkWriter<string> {
    this.created.push({ subtask: ctx.subtaskIndex, restored });
    const sink = this;
    let buffer = (restored ?? []) as string[];
    const snapshots = new Map<number, string[]>();
    return {
      write(record) {
        buffer.push(record);
      },
      snapshotState(checkpointId) {
        sink.log.push(`snapshot ${checkpointId}`);
        snapshots.set(checkpointId, buffer);
        buffer = [];
        return snapshots.get(checkpointId)!;
      },
      notifyCheckpointComplete(checkpointId) {
        sink.log.push(`complete ${checkpointId}`);
        for (const [id, records] of snapshots) {
          if (id > checkpointId) continue;
          sink.flushed.push(...records);
          snapshots.delete(id);
        }
      },
      notifyCheckpointAborted(checkpointId) {
        sink.log.push(`aborted ${checkpointId}`);
      },
    };
  }
}

const openSink = (sink: Sink<unknown>, options: Parameters<typeof OperatorHarness.open>[1] = {}) => OperatorHarness.open(new SinkOperator(sink), options);

describe("sink writer checkpoint hooks", () => {
  it("snapshots the writer at each barrier and tells it of completed and aborted checkpoints by id", async () => {
    const sink = new TestingBufferingSink();
    const h = await openSink(sink);
    expect(sink.created).toEqual([{ subtask: 0, restored: undefined }]);
    h.operator.processElement("a", undefined);
    await h.barrier(1);
    h.operator.processElement("b", undefined);
    await h.barrier(2);
    await h.operator.notifyCheckpointAborted(2);
    await h.operator.notifyCheckpointComplete(1);
    expect(sink.flushed).toEqual(["a"]);
    await h.operator.notifyCheckpointComplete(2);
    expect(sink.flushed).toEqual(["a", "b"]);
    expect(sink.log).toEqual(["snapshot 1", "snapshot 2", "aborted 2", "complete 1", "complete 2"]);
    await h.close();
  });

  it("hands the writer state of the restored checkpoint back to createWriter", async () => {
    const sink = new TestingBufferingSink();
    const h = await openSink(sink);
    h.operator.processElement("a", undefined);
    h.operator.processElement("b", undefined);
    const dir = freshDir();
    const { operator } = await h.snapshot(1, dir);
    h.operator.processElement("lost with the failure", undefined);
    await h.close();

    const restored = await openSink(sink, { attempt: 1, restore: restoreFrom(dir, [operator]) });
    expect(sink.created[1]).toEqual({ subtask: 0, restored: ["a", "b"] });
    await restored.barrier(2);
    await restored.operator.notifyCheckpointComplete(2);
    expect(sink.flushed).toEqual(["a", "b"]);
    await restored.close();
  });

  it("splits the writer state of all old subtasks among the new ones on a rescale", async () => {
    const sink = new TestingBufferingSink();
    const dir = freshDir();
    const handles: OperatorStateHandle[] = [];
    for (const subtask of [0, 1]) {
      const h = await openSink(sink, { subtaskIndex: subtask, parallelism: 2 });
      h.operator.processElement(`x${subtask}`, undefined);
      h.operator.processElement(`y${subtask}`, undefined);
      handles.push((await h.snapshot(1, dir)).operator);
      await h.close();
    }
    sink.created.length = 0;
    for (const subtask of [0, 1, 2, 3]) {
      const h = await openSink(sink, { subtaskIndex: subtask, parallelism: 4, restore: restoreFrom(dir, handles) });
      await h.close();
    }
    expect(sink.created.map((c) => c.restored)).toEqual([["x0"], ["y0"], ["x1"], ["y1"]]);
  });

  it("gives a writer restored from a checkpoint without writer state an empty list, not a fresh start", async () => {
    const plain: Sink<string> = { createWriter: () => ({ write() {} }) };
    const h = await openSink(plain);
    const dir = freshDir();
    const { operator } = await h.snapshot(1, dir);
    await h.close();
    const sink = new TestingBufferingSink();
    const restored = await openSink(sink, { restore: restoreFrom(dir, [operator]) });
    expect(sink.created).toEqual([{ subtask: 0, restored: [] }]);
    await restored.close();
  });

  it("snapshots a two-phase-commit writer's own state after its preCommit", async () => {
    const log: string[] = [];
    const sink: Sink<string> = {
      createWriter: () => ({
        write() {},
        preCommit: (id: number) => void log.push(`preCommit ${id}`),
        commit() {},
        abortLeftovers() {},
        snapshotState: (id: number) => {
          log.push(`snapshot ${id}`);
          return [];
        },
      }),
    };
    const h = await openSink(sink);
    await h.barrier(1);
    expect(log).toEqual(["preCommit 1", "snapshot 1"]);
    await h.close();
  });

  it("rejects writer state that is not a list, naming the writer", async () => {
    const sink: Sink<string> = { createWriter: () => ({ write() {}, snapshotState: () => "oops" as unknown as unknown[] }) };
    const h = await openSink(sink);
    expect(() => h.operator.snapshotState(1)).toThrow(
      expect.objectContaining({ code: "STATE_INVALID_ARGUMENT", message: expect.stringMatching(/sink writer/) }),
    );
    await h.close();
  });
});
