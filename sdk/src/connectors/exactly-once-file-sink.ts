import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { RiffleError, describeError } from "@riffle/shared";
import type { RuntimeContext } from "../api/functions.js";
import type { Sink, TwoPhaseCommitWriter } from "../api/sink.js";
import { formatRecord } from "./format.js";

interface StagedFile {
  /** In-progress file name (hidden: starts with a dot). */
  tmp: string;
  /** Name once committed. */
  final: string;
}

/** How the sink makes files and names durable. The default fsyncs; tests pass a recording double. */
export interface FileSync {
  /** Forces an open file's data to disk. */
  file(fd: number): void;
  /** Forces a directory's entries (files created or renamed in it) to disk. */
  directory(path: string): void;
}

export const fsyncFileSync: FileSync = {
  file: (fd) => fsyncSync(fd),
  directory(path) {
    // Windows cannot open a directory for fsync; elsewhere this is what makes a new name durable.
    if (process.platform === "win32") return;
    const fd = openSync(path, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  },
};

/**
 * One line per record into `dir`, exactly once with checkpoints: records go to a hidden in-progress
 * file; at each checkpoint barrier the file is synced to disk, closed and staged, and it is renamed to
 * `part-<subtask>-<checkpoint>` when the checkpoint completes. After a failure, staged files of the
 * restored checkpoint are committed and other in-progress files of the subtask are deleted.
 * Readers should ignore files starting with a dot. Without checkpointing, files are committed at end
 * of input.
 */
export class ExactlyOnceFileSink<T> implements Sink<T> {
  constructor(
    readonly dir: string,
    private readonly sync: FileSync = fsyncFileSync,
  ) {
    if (typeof dir !== "string" || dir.length === 0) throw new Error("the exactly-once file sink needs a directory");
  }

  createWriter(ctx: RuntimeContext): TwoPhaseCommitWriter<T, StagedFile> {
    mkdirSync(this.dir, { recursive: true });
    return new FileTransactionWriter<T>(this.dir, ctx.subtaskIndex, ctx.attempt ?? 0, this.sync);
  }
}

/** Bytes buffered before a write to the file. */
const FLUSH_AT = 64 * 1024;

class FileTransactionWriter<T> implements TwoPhaseCommitWriter<T, StagedFile> {
  private fd: number | undefined;
  private tmp: string | undefined;
  private buffer = "";
  private sequence = 0;
  private written = false;
  /** Set when a sync failed: see `durably`. */
  private failure: RiffleError | undefined;

  constructor(
    private readonly dir: string,
    private readonly subtask: number,
    private readonly attempt: number,
    private readonly sync: FileSync,
  ) {}

  write(record: T): void {
    if (this.failure) throw this.failure;
    this.buffer += `${formatRecord(record)}\n`;
    this.written = true;
    if (this.buffer.length >= FLUSH_AT) this.flushBuffer();
  }

  private flushBuffer(): void {
    if (this.buffer.length === 0) return;
    if (this.fd === undefined) {
      // Unique per attempt, so a restarted subtask never appends to a file of an earlier attempt.
      this.tmp = `.part-${this.subtask}-a${this.attempt}-${this.sequence++}.inprogress`;
      this.fd = openSync(join(this.dir, this.tmp), "w");
    }
    writeSync(this.fd, this.buffer);
    this.buffer = "";
  }

  /**
   * Staged only once durable: the checkpoint that stores this transaction may complete, and its commit
   * then runs after a crash of the machine too, so the file's data and its name must be on disk.
   */
  preCommit(checkpointId: number): StagedFile | undefined {
    if (this.failure) throw this.failure;
    if (!this.written) return undefined;
    this.flushBuffer();
    const fd = this.fd!;
    this.durably(`sync ${this.tmp}`, () => this.sync.file(fd));
    closeSync(fd);
    this.fd = undefined;
    this.durably(`sync the directory ${this.dir}`, () => this.sync.directory(this.dir));
    const staged = { tmp: this.tmp!, final: `part-${this.subtask}-${checkpointId}` };
    this.tmp = undefined;
    this.written = false;
    return staged;
  }

  /**
   * A sync that failed poisons the writer: the kernel may have dropped the unwritten pages, and a
   * retried fsync can then report success (Linux), so what was written since the last checkpoint can
   * no longer be staged. Every later call fails, the task restarts from the last checkpoint, and
   * abortLeftovers removes the file.
   */
  private durably(what: string, sync: () => void): void {
    try {
      sync();
    } catch (err) {
      this.failure = new RiffleError("SINK_WRITE_FAILED", `exactly-once file sink: cannot ${what}: ${describeError(err)}`, { cause: err });
      throw this.failure;
    }
  }

  commit(txn: StagedFile): void {
    // Idempotent: a file committed before a failure (or by another subtask after a rescale) is
    // already in place, and its in-progress file is gone.
    try {
      renameSync(join(this.dir, txn.tmp), join(this.dir, txn.final));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || !existsSync(join(this.dir, txn.final))) throw err;
    }
    // Synced also when the rename had been done before: that rename may not have reached the disk. A
    // failure here fails the task, and the restore commits the file again.
    try {
      this.sync.directory(this.dir);
    } catch (err) {
      throw new RiffleError(
        "SINK_WRITE_FAILED",
        `exactly-once file sink: cannot sync the directory ${this.dir} after committing ${txn.final}: ${describeError(err)}`,
        {
          cause: err,
        },
      );
    }
  }

  abortLeftovers(staged: readonly StagedFile[]): void {
    const keep = new Set(staged.map((s) => s.tmp));
    const mine = `.part-${this.subtask}-`;
    for (const name of readdirSync(this.dir)) {
      if (name.startsWith(mine) && name.endsWith(".inprogress") && !keep.has(name)) rmSync(join(this.dir, name), { force: true });
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
