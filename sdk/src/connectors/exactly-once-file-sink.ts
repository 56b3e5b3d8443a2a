import { closeSync, existsSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { RuntimeContext } from "../api/functions.js";
import type { Sink, TwoPhaseCommitWriter } from "../api/sink.js";
import { formatRecord } from "./format.js";

interface StagedFile {
  /** In-progress file name (hidden: starts with a dot). */
  tmp: string;
  /** Name once committed. */
  final: string;
}

/**
 * One line per record into `dir`, exactly once with checkpoints: records go to a hidden in-progress
 * file; at each checkpoint barrier the file is closed and staged, and it is renamed to
 * `part-<subtask>-<checkpoint>` when the checkpoint completes. After a failure, staged files of the
 * restored checkpoint are committed and other in-progress files of the subtask are deleted.
 * Readers should ignore files starting with a dot. Without checkpointing, files are committed at end
 * of input.
 */
export class ExactlyOnceFileSink<T> implements Sink<T> {
  constructor(readonly dir: string) {
    if (typeof dir !== "string" || dir.length === 0) throw new Error("the exactly-once file sink needs a directory");
  }

  createWriter(ctx: RuntimeContext): TwoPhaseCommitWriter<T, StagedFile> {
    mkdirSync(this.dir, { recursive: true });
    return new FileTransactionWriter<T>(this.dir, ctx.subtaskIndex, ctx.attempt ?? 0);
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

  constructor(
    private readonly dir: string,
    private readonly subtask: number,
    private readonly attempt: number,
  ) {}

  write(record: T): void {
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

  preCommit(checkpointId: number): StagedFile | undefined {
    if (!this.written) return undefined;
    this.flushBuffer();
    closeSync(this.fd!);
    const staged = { tmp: this.tmp!, final: `part-${this.subtask}-${checkpointId}` };
    this.fd = undefined;
    this.tmp = undefined;
    this.written = false;
    return staged;
  }

  commit(txn: StagedFile): void {
    // Idempotent: a file committed before a failure (or by another subtask after a rescale) is
    // already in place, and its in-progress file is gone.
    try {
      renameSync(join(this.dir, txn.tmp), join(this.dir, txn.final));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || !existsSync(join(this.dir, txn.final))) throw err;
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
