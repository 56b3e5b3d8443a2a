import type { Source, SourceSplit, SplitEnumerator, SplitEnumeratorContext } from "@riffle/sdk";
import type { OperatorEvent } from "@riffle/sdk/internal";
import { describe, expect, it } from "vitest";
import { EnumeratorRuntime } from "./enumerator-runtime.js";
import type { FromCoordinatorWorker, StartRequest } from "./protocol.js";
import { SplitAssignmentTracker } from "./split-assignment-tracker.js";
import { SubtaskGateway } from "./subtask-gateway.js";

describe("SplitAssignmentTracker", () => {
  it("gives back what a reader got after the restored checkpoint's snapshot, and nothing the checkpoint holds", () => {
    const t = new SplitAssignmentTracker<string>();
    t.recordAssignment(0, ["a"]);
    t.onSnapshot(1);
    t.recordAssignment(0, ["b"]);
    t.recordAssignment(1, ["c"]);
    t.onSnapshot(2);
    t.recordAssignment(0, ["d"]);
    // Restoring checkpoint 1: "b" and "d" came after its snapshot; "a" is in the reader's state of 1.
    expect(t.takeUncheckpointed(0, 1)).toEqual(["b", "d"]);
    expect(t.takeUncheckpointed(1, 1)).toEqual(["c"]);
    expect(t.takeUncheckpointed(0, 1)).toEqual([]);
  });

  it("forgets assignments once a checkpoint after them completed; restoring nothing gives back all the rest", () => {
    const t = new SplitAssignmentTracker<string>();
    t.recordAssignment(0, ["a"]);
    t.onSnapshot(1);
    t.recordAssignment(0, ["b"]);
    t.onSnapshot(2);
    t.onCheckpointComplete(1);
    t.recordAssignment(0, ["c"]);
    expect(t.takeUncheckpointed(0, undefined)).toEqual(["b", "c"]);
  });
});

describe("SubtaskGateway", () => {
  it("sends one event at a time in order, holds events from a snapshot until the trigger went out, and drains", async () => {
    const sent: string[] = [];
    let release: (() => void) | undefined;
    const gateway = new SubtaskGateway(
      (e) => {
        sent.push(JSON.stringify(e));
        return new Promise<void>((resolve) => {
          release = resolve;
        });
      },
      () => {
        throw new Error("no event is lost here");
      },
    );
    gateway.send({ type: "AddSplits", splits: [1] });
    gateway.send({ type: "AddSplits", splits: [2] });
    expect(sent).toEqual(['{"type":"AddSplits","splits":[1]}']);
    const drained = gateway.whenDrained();
    gateway.close(7);
    gateway.send({ type: "NoMoreSplits" });
    release!();
    await Promise.resolve();
    await Promise.resolve();
    expect(sent).toHaveLength(2);
    release!();
    await drained;
    // Held until the trigger of checkpoint 7 went out.
    expect(sent).toHaveLength(2);
    gateway.open(6);
    expect(sent).toHaveLength(2);
    gateway.open(7);
    expect(sent.at(-1)).toBe('{"type":"NoMoreSplits"}');
    release!();
    await gateway.whenDrained();
  });

  it("reports an event that did not arrive, and sends nothing after dispose", async () => {
    const lost: OperatorEvent[] = [];
    let calls = 0;
    const gateway = new SubtaskGateway(
      () => {
        calls++;
        return Promise.reject(new Error("TaskManager gone"));
      },
      (e) => lost.push(e),
    );
    gateway.send({ type: "NoMoreSplits" });
    await gateway.whenDrained();
    expect(lost).toEqual([{ type: "NoMoreSplits" }]);
    gateway.dispose();
    gateway.send({ type: "NoMoreSplits" });
    expect(calls).toBe(1);
  });
});

/** A source whose enumerator hands out splits "s0".."s<n-1>" round-robin as readers register, and keeps what is left in its state. */
class ListSource implements Partial<Source<string>> {
  readonly boundedness = "bounded" as const;
  constructor(private readonly n: number) {}

  createEnumerator(ctx: SplitEnumeratorContext<SourceSplit>, restored?: unknown): SplitEnumerator<SourceSplit, unknown> {
    let left: SourceSplit[] = (restored as SourceSplit[] | undefined) ?? Array.from({ length: this.n }, (_, i) => ({ splitId: `s${i}` }));
    const assign = () => {
      const readers = ctx.registeredReaders();
      if (readers.length === 0) return;
      const assignment = new Map<number, SourceSplit[]>();
      left.forEach((s, i) => {
        const r = readers[i % readers.length]!;
        assignment.set(r, [...(assignment.get(r) ?? []), s]);
      });
      left = [];
      ctx.assignSplits(assignment);
      for (const r of readers) ctx.signalNoMoreSplits(r);
    };
    return {
      start() {},
      addReader: assign,
      addSplitsBack(splits) {
        left.push(...splits);
      },
      snapshotState: () => left,
    };
  }
}

function runtime(sources: Record<number, unknown>) {
  const out: FromCoordinatorWorker[] = [];
  const rt = new EnumeratorRuntime(
    (m) => out.push(m),
    async (req) => Array.from({ length: req.functionCount }, (_, i) => sources[i]),
  );
  return { rt, out };
}

const start = (epoch: number, restored?: unknown): StartRequest => ({
  type: "start",
  epoch,
  bundlePath: "/unused",
  args: [],
  functionCount: 1,
  jobId: "j",
  jobName: "job",
  sources: [{ vertexId: "v1", uid: "src", name: "source", fn: 0, parallelism: 2, ...(restored !== undefined ? { restored: { state: restored } } : {}) }],
});

describe("EnumeratorRuntime", () => {
  it("assigns to registered readers, snapshots in order with the assignments, and takes back a failed reader's splits", async () => {
    const { rt, out } = runtime({ 0: new ListSource(3) });
    rt.handle(start(1));
    rt.handle({ type: "snapshot", id: 0, checkpointId: 1 });
    rt.handle({ type: "add-reader", epoch: 1, vertexId: "v1", subtask: 0 });
    rt.handle({ type: "snapshot", id: 1, checkpointId: 2 });
    await rt.idle();
    const snapshots = out.filter((m) => m.type === "snapshot");
    expect(snapshots.map((m) => (m as { states: Record<string, unknown> }).states.src)).toEqual([
      [{ splitId: "s0" }, { splitId: "s1" }, { splitId: "s2" }],
      [],
    ]);
    expect(out.filter((m) => m.type === "assign")).toEqual([
      { type: "assign", epoch: 1, vertexId: "v1", subtask: 0, splits: [{ splitId: "s0" }, { splitId: "s1" }, { splitId: "s2" }] },
    ]);
    // The readers fail; the job restores checkpoint 1, whose snapshot came before the assignment.
    rt.handle({ type: "reset-readers", epoch: 2, vertexId: "v1", restoredCheckpointId: 1 });
    rt.handle({ type: "snapshot", id: 2, checkpointId: 3 });
    // A message of the old epoch is for a reader that is gone: ignored.
    rt.handle({ type: "add-reader", epoch: 1, vertexId: "v1", subtask: 1 });
    await rt.idle();
    expect((out.at(-1) as { states: Record<string, unknown> }).states.src).toEqual([{ splitId: "s0" }, { splitId: "s1" }, { splitId: "s2" }]);
    expect(out.filter((m) => m.type === "assign")).toHaveLength(1);
  });

  it("reports with each snapshot how many splits the enumerators that know it have, by vertex", async () => {
    const counted = new ListSource(3);
    const withCount = {
      createEnumerator: (ctx: SplitEnumeratorContext<SourceSplit>, restored?: unknown) => ({ ...counted.createEnumerator(ctx, restored), splitCount: () => 3 }),
    };
    const { rt, out } = runtime({ 0: withCount });
    rt.handle(start(1));
    rt.handle({ type: "snapshot", id: 0, checkpointId: 1 });
    await rt.idle();
    expect(out.find((m) => m.type === "snapshot")).toMatchObject({ splitCounts: { v1: 3 } });
    // One that does not say (no splitCount): nothing for it.
    const plain = runtime({ 0: new ListSource(3) });
    plain.rt.handle(start(1));
    plain.rt.handle({ type: "snapshot", id: 0, checkpointId: 1 });
    await plain.rt.idle();
    expect(plain.out.find((m) => m.type === "snapshot")).toMatchObject({ splitCounts: {} });
  });

  it("restores an enumerator from its checkpointed state", async () => {
    const { rt, out } = runtime({ 0: new ListSource(3) });
    rt.handle(start(1, [{ splitId: "s2" }]));
    rt.handle({ type: "add-reader", epoch: 1, vertexId: "v1", subtask: 1 });
    await rt.idle();
    expect(out.find((m) => m.type === "assign")).toMatchObject({ subtask: 1, splits: [{ splitId: "s2" }] });
  });

  it("fails the job, naming the source, when the function is no source with an enumerator or the enumerator throws", async () => {
    const bad = runtime({ 0: { boundedness: "bounded" } });
    bad.rt.handle(start(1));
    await bad.rt.idle();
    expect(bad.out.find((m) => m.type === "failed")).toMatchObject({ error: { message: expect.stringMatching(/source.*not a source with an enumerator/) } });

    const throwing = runtime({
      0: {
        createEnumerator: () => ({
          start() {},
          addReader() {
            throw new Error("no partitions");
          },
          addSplitsBack() {},
          snapshotState: () => null,
        }),
      },
    });
    throwing.rt.handle(start(1));
    throwing.rt.handle({ type: "add-reader", epoch: 1, vertexId: "v1", subtask: 0 });
    await throwing.rt.idle();
    expect(throwing.out.find((m) => m.type === "failed")).toMatchObject({
      vertexId: "v1",
      error: { message: "the split enumerator of source (addReader) failed: no partitions" },
    });
  });
});
