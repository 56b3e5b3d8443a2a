import { fstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RiffleError } from "@riffle/shared";
import { afterAll, describe, expect, it } from "vitest";
import type { RuntimeContext } from "../api/functions.js";
import type { TwoPhaseCommitWriter } from "../api/sink.js";
import { ExactlyOnceFileSink, type FileSync, fsyncFileSync } from "./exactly-once-file-sink.js";

const root = mkdtempSync(join(tmpdir(), "riffle-eofs-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dirs = 0;
const freshDir = () => join(root, `d${dirs++}`);
const ctx = (subtaskIndex: number, attempt: number) => ({ subtaskIndex, parallelism: 2, attempt }) as RuntimeContext;

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

function open(dir: string, sync: FileSync, subtask = 0, attempt = 0): Writer {
  return new ExactlyOnceFileSink<string>(dir, sync).createWriter(ctx(subtask, attempt)) as Writer;
}

const visible = (dir: string) =>
  readdirSync(dir)
    .filter((n) => !n.startsWith("."))
    .sort();
const read = (dir: string, name: string) => readFileSync(join(dir, name), "utf8");

describe("exactly-once file sink", () => {
  it("stages a synced, closed file at the barrier and makes it visible on commit, syncing the directory after the rename", () => {
    const dir = freshDir();
    const sync = new RecordingSync();
    const w = open(dir, sync);
    w.write("a");
    w.write("b");
    const txn = w.preCommit(7)!;
    expect(txn).toEqual({ tmp: ".part-0-a0-0.inprogress", final: "part-0-7" });
    // The file was synced with both lines already written to it, then its name with the directory.
    expect(sync.events).toEqual([
      { kind: "file", size: 4 },
      { kind: "dir", names: [".part-0-a0-0.inprogress"] },
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
    expect(() => w.commit({ tmp: ".part-0-a0-9.inprogress", final: "part-0-9" })).toThrow(/ENOENT/);
    w.close();
  });

  it("on restore commits what the checkpoint staged and removes this subtask's other in-progress files", () => {
    const dir = freshDir();
    const first = open(dir, new RecordingSync(), 0, 0);
    first.write("in checkpoint 1");
    const staged = first.preCommit(1)!;
    first.write("after checkpoint 1");
    first.preCommit(2); // staged, but checkpoint 2 never completes
    first.write("never staged");
    first.preCommit(3);
    first.close();
    // Another subtask's in-progress file is not this subtask's to remove.
    writeFileSync(join(dir, ".part-1-a0-0.inprogress"), "other\n");

    const restarted = open(dir, new RecordingSync(), 0, 1);
    restarted.commit(staged);
    restarted.abortLeftovers([staged]);
    expect(readdirSync(dir).sort()).toEqual([".part-1-a0-0.inprogress", "part-0-1"]);
    expect(read(dir, "part-0-1")).toBe("in checkpoint 1\n");
    // The new attempt writes to new files: nothing of the earlier attempt is appended to.
    restarted.write("attempt 1");
    expect(restarted.preCommit(4)).toEqual({ tmp: ".part-0-a1-0.inprogress", final: "part-0-4" });
    restarted.close();
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
