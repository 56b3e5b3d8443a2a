import * as fs from "node:fs";
import { fstatSync, linkSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RiffleError } from "@riffle/shared";
import { afterAll, describe, expect, it, vi } from "vitest";
import type { RuntimeContext } from "../api/functions.js";
import type { TwoPhaseCommitWriter } from "../api/sink.js";
import { ExactlyOnceFileSink, type FileSync, fsyncFileSync } from "./exactly-once-file-sink.js";

// linkSync passes through to the real one; a test replaces it once to replay a race.
vi.mock("node:fs", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs")>();
  return { ...real, linkSync: vi.fn(real.linkSync) };
});

const root = mkdtempSync(join(tmpdir(), "riffle-eofs-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dirs = 0;
const freshDir = () => join(root, `d${dirs++}`);
const JOB = "3f2a9b0c1d2e4f5a6b7c8d9e0f1a2b3c";
const ctx = (subtaskIndex: number, attempt: number, jobId = JOB) => ({ jobId, subtaskIndex, parallelism: 2, attempt }) as RuntimeContext;

/**
 * A FileSync that runs the real fsyncs and records what was on disk at each: the size of the file
 * being synced (so the buffer must have been written first) and the directory's names.
 */
class RecordingSync implements FileSync {
  readonly events: ({ kind: "file"; size: number } | { kind: "dir"; names: string[] })[] = [];
  failFileSync = false;

  file(fd: number): void {
    if (this.failFileSync) throw Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" });
    this.events.push({ kind: "file", size: fstatSync(fd).size });
    fsyncFileSync.file(fd);
  }

  directory(path: string): void {
    this.events.push({ kind: "dir", names: readdirSync(path).sort() });
    fsyncFileSync.directory(path);
  }
}

type Writer = TwoPhaseCommitWriter<string, { tmp: string; final: string }> & { close(): void };

function open(dir: string, sync: FileSync, subtask = 0, attempt = 0, jobId = JOB): Writer {
  return new ExactlyOnceFileSink<string>(dir, sync).createWriter(ctx(subtask, attempt, jobId)) as Writer;
}

const hidden = (dir: string) =>
  readdirSync(dir)
    .filter((n) => n.startsWith("."))
    .sort();

const visible = (dir: string) =>
  readdirSync(dir)
    .filter((n) => !n.startsWith("."))
    .sort();
const read = (dir: string, name: string) => readFileSync(join(dir, name), "utf8");
/** A record larger than the writer's buffer: it reaches the in-progress file at once. */
const BIG = "x".repeat(70_000);

describe("exactly-once file sink", () => {
  it("stages a synced, closed file at the barrier and makes it visible on commit, syncing the directory after the rename", () => {
    const dir = freshDir();
    const sync = new RecordingSync();
    const w = open(dir, sync);
    w.write("a");
    w.write("b");
    const txn = w.preCommit(7)!;
    // Staged under a name that says for which checkpoint.
    expect(txn).toEqual({ tmp: `.part-0-${JOB}-a0-0.c7.pending`, final: "part-0-7" });
    // The file was synced with both lines already written to it, then its pending name with the directory.
    expect(sync.events).toEqual([
      { kind: "file", size: 4 },
      { kind: "dir", names: [`.part-0-${JOB}-a0-0.c7.pending`] },
    ]);
    expect(visible(dir)).toEqual([]);

    w.commit(txn);
    expect(visible(dir)).toEqual(["part-0-7"]);
    expect(read(dir, "part-0-7")).toBe("a\nb\n");
    // The directory was synced after the rename: the committed name is what it holds.
    expect(sync.events[2]).toEqual({ kind: "dir", names: ["part-0-7"] });
    w.close();
  });

  it("stages nothing, and syncs nothing, when nothing was written since the last barrier", () => {
    const dir = freshDir();
    const sync = new RecordingSync();
    const w = open(dir, sync);
    expect(w.preCommit(1)).toBeUndefined();
    w.write("x");
    w.preCommit(2);
    const after = sync.events.length;
    expect(w.preCommit(3)).toBeUndefined();
    expect(sync.events.length).toBe(after);
    w.close();
  });

  it("commits idempotently, syncing the directory again for a rename done before a failure", () => {
    const dir = freshDir();
    const sync = new RecordingSync();
    const w = open(dir, sync);
    w.write("once");
    const txn = w.preCommit(1)!;
    w.commit(txn);
    const before = sync.events.length;
    w.commit(txn);
    expect(sync.events.length).toBe(before + 1);
    expect(read(dir, "part-0-1")).toBe("once\n");
    // A staged file that is neither in progress nor committed is lost: that must not pass silently.
    expect(() => w.commit({ tmp: `.part-0-${JOB}-a0-9.c9.pending`, final: "part-0-9" })).toThrow(/ENOENT/);
    w.close();
  });

  it("never replaces a committed file: a job restored from an earlier savepoint commits beside it, under a name with its job id", () => {
    const dir = freshDir();
    const sync = new RecordingSync();
    // The job the savepoint (id 3) was taken from went on, and committed checkpoint 4.
    const earlier = open(dir, sync);
    earlier.write("the earlier job's");
    earlier.commit(earlier.preCommit(4)!);
    earlier.close();
    // A job restored from the savepoint takes checkpoint ids from 4 on too.
    const restoredJob = "0123456789abcdef0123456789abcdef";
    const restored = open(dir, sync, 0, 0, restoredJob);
    restored.write("the restored job's");
    const txn = restored.preCommit(4)!;
    expect(txn.final).toBe("part-0-4");
    restored.commit(txn);
    expect(visible(dir)).toEqual(["part-0-4", `part-0-4-${restoredJob}`]);
    expect(hidden(dir)).toEqual([]);
    expect(read(dir, "part-0-4")).toBe("the earlier job's\n");
    expect(read(dir, `part-0-4-${restoredJob}`)).toBe("the restored job's\n");
    // Committing again (a restore of the restored job) changes nothing, also if cut short before
    // the pending name went.
    restored.commit(txn);
    const again = open(dir, sync, 0, 1, restoredJob);
    again.write("the restored job's next");
    const next = again.preCommit(5)!;
    writeFileSync(join(dir, "part-0-5"), "the earlier job's 5\n");
    linkSync(join(dir, next.tmp), join(dir, `part-0-5-${restoredJob}`));
    again.commit(next);
    expect(visible(dir)).toEqual(["part-0-4", `part-0-4-${restoredJob}`, "part-0-5", `part-0-5-${restoredJob}`]);
    expect(read(dir, `part-0-5-${restoredJob}`)).toBe("the restored job's next\n");
    expect(hidden(dir)).toEqual([]);
    restored.close();
    again.close();
  });

  it("finishes a commit cut short between the committed name and the removal of the pending one", () => {
    const dir = freshDir();
    const w = open(dir, new RecordingSync());
    w.write("once");
    const txn = w.preCommit(1)!;
    // What a crash right after the hard link leaves: both names, one file.
    linkSync(join(dir, txn.tmp), join(dir, txn.final));
    w.commit(txn);
    expect(visible(dir)).toEqual(["part-0-1"]);
    expect(hidden(dir)).toEqual([]);
    expect(read(dir, "part-0-1")).toBe("once\n");
    w.close();
  });

  it("lets two subtasks commit the same transaction at once: the one that loses the race finds it committed", () => {
    const dir = freshDir();
    const w = open(dir, new RecordingSync());
    w.write("raced");
    const txn = w.preCommit(1)!;
    // While pending commits were union state, every subtask committed every transaction after a restore. This
    // one's link fails because another subtask linked first, which then removed the pending name.
    vi.mocked(linkSync).mockImplementationOnce((pending, final) => {
      fs.linkSync(pending, final);
      fs.rmSync(pending);
      throw Object.assign(new Error(`EEXIST: file already exists, link '${pending}' -> '${final}'`), { code: "EEXIST" });
    });
    w.commit(txn);
    expect(visible(dir)).toEqual(["part-0-1"]);
    expect(hidden(dir)).toEqual([]);
    expect(read(dir, "part-0-1")).toBe("raced\n");
    w.close();
  });

  it("on restore commits what the checkpoint staged and removes this subtask's files nothing will commit", () => {
    const dir = freshDir();
    const first = open(dir, new RecordingSync(), 0, 0);
    first.write("in checkpoint 1");
    const staged = first.preCommit(1)!;
    first.write("after checkpoint 1");
    first.preCommit(2); // staged, but checkpoint 2 never completes
    first.write("after checkpoint 2");
    first.preCommit(3); // nor does checkpoint 3
    first.write(BIG); // in progress when the process died
    expect(hidden(dir)).toContain(`.part-0-${JOB}-a0-3.inprogress`);
    // (No close: the process was killed.)
    const otherSubtask = `.part-1-${JOB}-a0-0.inprogress`;
    writeFileSync(join(dir, otherSubtask), "other\n");

    const restarted = open(dir, new RecordingSync(), 0, 1);
    restarted.commit(staged);
    restarted.abortLeftovers([staged], { checkpointId: 1, retainedUpTo: 1 });
    expect(readdirSync(dir).sort()).toEqual([otherSubtask, "part-0-1"]);
    expect(read(dir, "part-0-1")).toBe("in checkpoint 1\n");
    // The new attempt writes to new files: nothing of the earlier attempt is appended to.
    restarted.write("attempt 1");
    expect(restarted.preCommit(4)).toEqual({ tmp: `.part-0-${JOB}-a1-0.c4.pending`, final: "part-0-4" });
    restarted.close();
  });

  it("keeps, through a restore of an older checkpoint, what a newer savepoint staged; a job restored from the savepoint commits it", () => {
    const dir = freshDir();
    const first = open(dir, new RecordingSync(), 0, 0);
    first.write("a");
    const checkpoint1 = [first.preCommit(1)!];
    first.commit(checkpoint1[0]!);
    first.write("b");
    const aborted2 = first.preCommit(2)!; // checkpoint 2 is aborted: its file rides on the next one
    first.write("c");
    // Savepoint 3 holds both pending files (what checkpoint 2 staged, and its own).
    const savepoint3 = [aborted2, first.preCommit(3)!];
    first.write("d");
    first.preCommit(4); // checkpoint 4 never completes: the TaskManager dies
    first.write(BIG);

    // The failover goes back to checkpoint 1; savepoint 3 completed and is retained.
    const failedOver = open(dir, new RecordingSync(), 0, 1);
    failedOver.abortLeftovers(checkpoint1, { checkpointId: 1, retainedUpTo: 3 });
    expect(hidden(dir)).toEqual([`.part-0-${JOB}-a0-1.c2.pending`, `.part-0-${JOB}-a0-2.c3.pending`]);
    failedOver.close();

    // Another job restores the savepoint, and commits what it staged.
    const fromSavepoint = open(dir, new RecordingSync(), 0, 0, "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0");
    for (const t of savepoint3) fromSavepoint.commit(t);
    fromSavepoint.abortLeftovers(savepoint3, { checkpointId: 3, retainedUpTo: 3 });
    expect(visible(dir)).toEqual(["part-0-1", "part-0-2", "part-0-3"]);
    expect(["part-0-1", "part-0-2", "part-0-3"].map((f) => read(dir, f)).join("")).toBe("a\nb\nc\n");
    expect(hidden(dir)).toEqual([]);
    fromSavepoint.close();
  });

  it("never touches another job's files, and removes its own in-progress file when closed", () => {
    const dir = freshDir();
    const other = open(dir, new RecordingSync(), 0, 0, "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0");
    other.write("staged by another job, maybe for its savepoint");
    other.preCommit(9);
    other.write(BIG); // being written by another job
    const before = hidden(dir);

    const mine = open(dir, new RecordingSync(), 0, 1);
    mine.abortLeftovers([], { checkpointId: 1, retainedUpTo: 1 });
    expect(hidden(dir)).toEqual(before);
    mine.write(BIG); // in no checkpoint
    expect(hidden(dir)).toHaveLength(3);
    mine.close();
    expect(hidden(dir)).toEqual(before);
    other.close();
  });

  it("fails for good once a sync failed: the unsynced data is never staged", () => {
    const dir = freshDir();
    const sync = new RecordingSync();
    const w = open(dir, sync);
    w.write("lost?");
    sync.failFileSync = true;
    let err: RiffleError | undefined;
    try {
      w.preCommit(1);
    } catch (e) {
      err = e as RiffleError;
    }
    expect(err).toMatchObject({ name: "RiffleError", code: "SINK_WRITE_FAILED" });
    expect(err!.message).toMatch(/EIO/);
    // A retried fsync may report success after the kernel dropped the pages: the writer refuses.
    sync.failFileSync = false;
    expect(() => w.preCommit(2)).toThrow(err);
    expect(() => w.write("more")).toThrow(err);
    expect(visible(dir)).toEqual([]);
    w.close();
  });
});
