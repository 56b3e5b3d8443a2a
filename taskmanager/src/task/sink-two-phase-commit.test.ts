import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExactlyOnceFileSink, type RestoredCheckpoint, type Sink, type TwoPhaseCommitWriter } from "@riffle/sdk";
import { SinkOperator } from "@riffle/sdk/internal";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OperatorHarness } from "../joins/join-test-util.js";
import type { OperatorStateHandle } from "../state/index.js";

let root: string;
let dirs = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "riffle-2pc-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
const freshDir = () => join(root, `cp${dirs++}`);

/** A transaction of the testing system: the records of one subtask between two barriers. */
interface Txn {
  id: string;
  records: string[];
}

/**
 * An external system with transactions, shared by every writer of a test (as a database outlives the
 * subtasks writing to it): open transactions can be committed (once visible, always visible) or
 * removed, and every call is logged in order.
 */
class TestingTransactionalSystem {
  readonly open = new Map<string, string[]>();
  /** The checkpoint each staged transaction was staged for. */
  readonly stagedFor = new Map<string, number>();
  readonly visible: string[] = [];
  readonly log: string[] = [];

  sink(): Sink<string> {
    return { createWriter: (ctx) => new TestingTwoPhaseWriter(this, `s${ctx.subtaskIndex}a${ctx.attempt ?? 0}`) };
  }
}

class TestingTwoPhaseWriter implements TwoPhaseCommitWriter<string, Txn> {
  private current: string[] = [];
  private n = 0;

  constructor(
    private readonly system: TestingTransactionalSystem,
    private readonly name: string,
  ) {}

  write(record: string): void {
    this.current.push(record);
    // An open transaction exists in the system from its first record, as an uncommitted file would.
    this.system.open.set(`${this.name}-${this.n}`, this.current);
  }

  preCommit(checkpointId: number): Txn | undefined {
    this.system.log.push(`preCommit ${checkpointId}`);
    if (this.current.length === 0) return undefined;
    const txn = { id: `${this.name}-${this.n++}`, records: this.current };
    this.system.stagedFor.set(txn.id, checkpointId);
    this.current = [];
    return txn;
  }

  commit(txn: Txn): void {
    this.system.log.push(`commit ${txn.id}`);
    const records = this.system.open.get(txn.id);
    if (records === undefined) return; // committed before: idempotent
    this.system.open.delete(txn.id);
    this.system.visible.push(...records);
  }

  /** Keeps `staged`, and what was staged for checkpoints a retained savepoint may still commit. */
  abortLeftovers(staged: readonly Txn[], restored: RestoredCheckpoint): void {
    this.system.log.push(`abortLeftovers ${staged.map((t) => t.id).join(",")} up to ${restored.retainedUpTo}`);
    const keep = new Set(staged.map((t) => t.id));
    for (const id of this.system.open.keys()) {
      const stagedFor = this.system.stagedFor.get(id);
      if (!keep.has(id) && (stagedFor === undefined || stagedFor > restored.retainedUpTo)) this.system.open.delete(id);
    }
  }

  notifyCheckpointComplete(checkpointId: number): void {
    this.system.log.push(`complete ${checkpointId}`);
  }

  notifyCheckpointAborted(checkpointId: number): void {
    this.system.log.push(`aborted ${checkpointId}`);
  }
}

function write(h: OperatorHarness, ...records: string[]): void {
  for (const r of records) h.operator.processElement(r, undefined);
}

/** Checkpoint `id` of one subtask, written to a fresh directory: what a restore reads. */
async function checkpoint(h: OperatorHarness, id: number): Promise<{ dir: string; operator: OperatorStateHandle }> {
  const dir = freshDir();
  const { operator } = await h.snapshot(id, dir);
  return { dir, operator };
}

const restoreFrom = (...cps: { dir: string; operator: OperatorStateHandle }[]) => ({
  dir: cps[0]!.dir,
  keyed: [],
  operator: cps.map((c) => c.operator),
});

/**
 * A first run that fails before checkpoint 1's completion reaches the sink: "a" is staged in
 * checkpoint 1 (returned), "b" in checkpoint 2, which never completes, and "c" is never staged.
 */
async function runUntilFailure(system: TestingTransactionalSystem): Promise<{ dir: string; operator: OperatorStateHandle }> {
  const first = await OperatorHarness.open(new SinkOperator(system.sink()));
  write(first, "a");
  const cp1 = await checkpoint(first, 1);
  write(first, "b");
  await first.barrier(2);
  write(first, "c");
  await first.close();
  return cp1;
}

/** What the task says of a restore of checkpoint `checkpointId`, when the newest retained one is `retainedUpTo`. */
const from = (checkpointId: number, retainedUpTo = checkpointId): { restoredFrom: RestoredCheckpoint } => ({ restoredFrom: { checkpointId, retainedUpTo } });

describe("sink operator: two-phase commit", () => {
  it("stages at the barrier and commits on completion, only what was staged up to the completed checkpoint", async () => {
    const system = new TestingTransactionalSystem();
    const h = await OperatorHarness.open(new SinkOperator(system.sink()));
    write(h, "a", "b");
    await h.barrier(1);
    write(h, "c");
    await h.barrier(2);
    expect(system.visible).toEqual([]);
    await h.operator.notifyCheckpointComplete(1);
    expect(system.visible).toEqual(["a", "b"]);
    await h.operator.notifyCheckpointComplete(2);
    expect(system.visible).toEqual(["a", "b", "c"]);
    // The writer hears of a completion after the transactions up to it were committed.
    expect(system.log).toEqual(["preCommit 1", "preCommit 2", "commit s0a0-0", "complete 1", "commit s0a0-1", "complete 2"]);
    await h.close();
  });

  it("asks the writer to abort what earlier jobs left open on a fresh start only, not on a restore", async () => {
    const calls: string[] = [];
    const writer = (attempt: number): TwoPhaseCommitWriter<string, Txn> => ({
      write() {},
      preCommit: () => undefined,
      commit() {},
      abortLeftovers: () => void calls.push(`abortLeftovers a${attempt}`),
      abortLingering: () => void calls.push(`abortLingering a${attempt}`),
    });
    const sink: Sink<string> = { createWriter: (ctx) => writer(ctx.attempt ?? 0) };
    const fresh = await OperatorHarness.open(new SinkOperator(sink));
    expect(calls).toEqual(["abortLingering a0"]);
    const cp1 = await checkpoint(fresh, 1);
    await fresh.close();
    const restored = await OperatorHarness.open(new SinkOperator(sink), { attempt: 1, restore: restoreFrom(cp1), ...from(1) });
    expect(calls).toEqual(["abortLingering a0", "abortLeftovers a1"]);
    await restored.close();
  });

  it("keeps the transaction of an aborted checkpoint and commits it with the next completed one", async () => {
    const system = new TestingTransactionalSystem();
    const h = await OperatorHarness.open(new SinkOperator(system.sink()));
    write(h, "a");
    await h.barrier(1);
    await h.operator.notifyCheckpointAborted(1);
    expect(system.visible).toEqual([]);
    expect(system.open.size).toBe(1);
    write(h, "b");
    await h.barrier(2);
    await h.operator.notifyCheckpointComplete(2);
    expect(system.visible).toEqual(["a", "b"]);
    expect(system.log).toEqual(["preCommit 1", "aborted 1", "preCommit 2", "commit s0a0-0", "commit s0a0-1", "complete 2"]);
    await h.close();
  });

  it("on restore commits what the restored checkpoint staged, then removes the leftovers, and never commits them again", async () => {
    const system = new TestingTransactionalSystem();
    const cp1 = await runUntilFailure(system);
    expect(system.visible).toEqual([]);

    system.log.length = 0;
    const restored = await OperatorHarness.open(new SinkOperator(system.sink()), { attempt: 1, restore: restoreFrom(cp1), ...from(1) });
    expect(system.log).toEqual(["commit s0a0-0", "abortLeftovers s0a0-0 up to 1"]);
    expect(system.visible).toEqual(["a"]);
    expect(system.open.size).toBe(0);

    // The restored transaction is done with: the next checkpoint neither stores nor commits it again.
    write(restored, "d");
    const cp3 = await checkpoint(restored, 3);
    await restored.operator.notifyCheckpointComplete(3);
    expect(system.visible).toEqual(["a", "d"]);
    expect(system.log.slice(2)).toEqual(["preCommit 3", "commit s0a1-0", "complete 3"]);
    await restored.close();

    system.log.length = 0;
    const again = await OperatorHarness.open(new SinkOperator(system.sink()), { attempt: 2, restore: restoreFrom(cp3), ...from(3) });
    expect(system.log).toEqual(["commit s0a1-0", "abortLeftovers s0a1-0 up to 3"]);
    expect(system.visible).toEqual(["a", "d"]);
    await again.close();
  });

  it("a failover to a checkpoint older than a savepoint keeps what the savepoint staged, and a job restored from the savepoint commits it", async () => {
    const system = new TestingTransactionalSystem();
    const first = await OperatorHarness.open(new SinkOperator(system.sink()));
    write(first, "a");
    const cp1 = await checkpoint(first, 1);
    write(first, "b");
    // An intermediate savepoint: completed, but never notified.
    const sp2 = await checkpoint(first, 2);
    write(first, "c");
    await first.barrier(3); // never completes: the TaskManager dies
    await first.close();

    // The failover goes back to checkpoint 1; savepoint 2 is the newest retained.
    system.log.length = 0;
    const failedOver = await OperatorHarness.open(new SinkOperator(system.sink()), { attempt: 1, restore: restoreFrom(cp1), ...from(1, 2) });
    expect(system.log).toEqual(["commit s0a0-0", "abortLeftovers s0a0-0 up to 2"]);
    expect(system.visible).toEqual(["a"]);
    expect([...system.open.keys()]).toEqual(["s0a0-1"]);
    await failedOver.close();

    // A new job from the savepoint commits what the savepoint staged.
    const fromSavepoint = await OperatorHarness.open(new SinkOperator(system.sink()), { restore: restoreFrom(sp2), ...from(2) });
    expect(system.visible).toEqual(["a", "b"]);
    expect(system.open.size).toBe(0);
    await fromSavepoint.close();
  });

  it("keeps every staged transaction when the runtime does not say what it restores", async () => {
    const system = new TestingTransactionalSystem();
    const cp1 = await runUntilFailure(system);
    const restored = await OperatorHarness.open(new SinkOperator(system.sink()), { attempt: 1, restore: restoreFrom(cp1) });
    expect(system.log.at(-1)).toBe(`abortLeftovers s0a0-0 up to ${Number.MAX_SAFE_INTEGER}`);
    expect([...system.open.keys()]).toEqual(["s0a0-1"]);
    await restored.close();
  });

  it("after a rescale, each staged transaction is committed by exactly one subtask (split state)", async () => {
    const system = new TestingTransactionalSystem();
    // Both old subtasks write checkpoint 1 into one directory (operator-0 and operator-1), as a task does.
    const dir = freshDir();
    const cps = [];
    for (const subtask of [0, 1]) {
      const h = await OperatorHarness.open(new SinkOperator(system.sink()), { subtaskIndex: subtask, parallelism: 2 });
      write(h, `from ${subtask}`);
      cps.push({ dir, operator: (await h.snapshot(1, dir)).operator });
      await h.close();
    }
    for (const subtask of [0, 1, 2]) {
      const h = await OperatorHarness.open(new SinkOperator(system.sink()), {
        subtaskIndex: subtask,
        parallelism: 3,
        attempt: 1,
        restore: restoreFrom(...cps),
      });
      await h.close();
    }
    expect(system.visible.sort()).toEqual(["from 0", "from 1"]);
    expect(system.log.filter((l) => l.startsWith("commit ")).sort()).toEqual(["commit s0a0-0", "commit s1a0-0"]);
  });

  it("without checkpoints, commits everything at end of input", async () => {
    const system = new TestingTransactionalSystem();
    const h = await OperatorHarness.open(new SinkOperator(system.sink()));
    write(h, "a", "b");
    await h.operator.endInput();
    expect(system.visible).toEqual(["a", "b"]);
    await h.close();
  });

  it("drives the exactly-once file sink through a failure: committed files hold each record once", async () => {
    const out = freshDir();
    const first = await OperatorHarness.open(new SinkOperator(new ExactlyOnceFileSink<string>(out)));
    write(first, "a", "b");
    const cp1 = await checkpoint(first, 1);
    write(first, "c");
    await first.barrier(2);
    write(first, "d");
    await first.close();

    const restored = await OperatorHarness.open(new SinkOperator(new ExactlyOnceFileSink<string>(out)), {
      attempt: 1,
      restore: restoreFrom(cp1),
      ...from(1),
    });
    write(restored, "c", "d");
    await restored.barrier(2);
    await restored.operator.notifyCheckpointComplete(2);
    await restored.close();
    expect((await readdir(out)).sort()).toEqual(["part-0-1", "part-0-2"]);
    expect(await readFile(join(out, "part-0-1"), "utf8")).toBe("a\nb\n");
    expect(await readFile(join(out, "part-0-2"), "utf8")).toBe("c\nd\n");
  });
});
