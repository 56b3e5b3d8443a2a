import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { RiffleError, describeError } from "@riffle/shared";
import type { RuntimeContext } from "../api/functions.js";
import type { RestoredCheckpoint, Sink, TwoPhaseCommitWriter } from "../api/sink.js";
import { formatRecord } from "./format.js";

interface StagedFile {
  /** The staged (pending) file's name, hidden: it starts with a dot. */
  tmp: string;
  /** Name once committed. */
  final: string;
}

/**
 * The hidden files of the sink, each named for the job and the subtask run that wrote it:
 *
 *   .part-<subtask>-<job>-a<attempt>-<n>.inprogress     being written; in no checkpoint
 *   .part-<subtask>-<job>-a<attempt>-<n>.c<id>.pending  staged for checkpoint <id>, synced
 *   part-<subtask>-<id>                                 committed
 */
const HIDDEN = /^\.part-(\d+)-([A-Za-z0-9]+)-a\d+-\d+\.(?:inprogress|c(\d+)\.pending)$/;

/** A job id as it goes into file names (the JobManager's are 32 hex characters). */
function fileSafe(jobId: string | undefined): string {
  return (jobId ?? "").replace(/[^A-Za-z0-9]/g, "") || "job";
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
 * file; at each checkpoint barrier the file is synced to disk, closed and staged (renamed to a hidden
 * pending name that carries the checkpoint id), and it is committed as `part-<subtask>-<checkpoint>`
 * when the checkpoint completes; a file already committed under that name (another job's) is never
 * replaced: the file is committed beside it as `part-<subtask>-<checkpoint>-<job id>`. After a failure, staged files of the restored checkpoint are
 * committed; the subtask's other files of the same job are deleted, except staged files a newer
 * savepoint may still commit (decision record 0007). Files of other jobs are never touched.
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
    return new FileTransactionWriter<T>(this.dir, ctx.subtaskIndex, fileSafe(ctx.jobId), ctx.attempt ?? 0, this.sync);
  }
}

/** Bytes buffered before a write to the file. */
const FLUSH_AT = 64 * 1024;

/** Whether two paths name the same file (hard links of one inode); false when either is gone. */
function sameFile(a: string, b: string): boolean {
  const sa = statSync(a, { throwIfNoEntry: false });
  const sb = statSync(b, { throwIfNoEntry: false });
  return sa !== undefined && sb !== undefined && sa.dev === sb.dev && sa.ino === sb.ino;
}

class FileTransactionWriter<T> implements TwoPhaseCommitWriter<T, StagedFile> {
  private fd: number | undefined;
  /** The in-progress file's name, from its creation until it is staged. */
  private tmp: string | undefined;
  private buffer = "";
  private sequence = 0;
  private written = false;
  /** Set when a sync failed: see `durably`. */
  private failure: RiffleError | undefined;

  constructor(
    private readonly dir: string,
    private readonly subtask: number,
    private readonly job: string,
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
      // Unique per job and attempt, so a restarted subtask never appends to a file of an earlier
      // attempt, and a job never to one of another job writing the same directory.
      this.tmp = `.part-${this.subtask}-${this.job}-a${this.attempt}-${this.sequence++}.inprogress`;
      this.fd = openSync(join(this.dir, this.tmp), "w");
    }
    writeSync(this.fd, this.buffer);
    this.buffer = "";
  }

  /**
   * Staged only once durable: the checkpoint that stores this transaction may complete, and its commit
   * then runs after a crash of the machine too, so the file's data and its name must be on disk. The
   * pending name carries the checkpoint id: after a failover, it tells a file a newer savepoint may
   * still commit from one of a checkpoint that never completed.
   */
  preCommit(checkpointId: number): StagedFile | undefined {
    if (this.failure) throw this.failure;
    if (!this.written) return undefined;
    this.flushBuffer();
    const fd = this.fd!;
    const inProgress = this.tmp!;
    this.durably(`sync ${inProgress}`, () => this.sync.file(fd));
    closeSync(fd);
    this.fd = undefined;
    const pending = `${inProgress.slice(0, -".inprogress".length)}.c${checkpointId}.pending`;
    this.durably(`stage ${inProgress} as ${pending}`, () => renameSync(join(this.dir, inProgress), join(this.dir, pending)));
    this.tmp = undefined;
    this.durably(`sync the directory ${this.dir}`, () => this.sync.directory(this.dir));
    this.written = false;
    return { tmp: pending, final: `part-${this.subtask}-${checkpointId}` };
  }

  /**
   * A sync that failed poisons the writer: the kernel may have dropped the unwritten pages, and a
   * retried fsync can then report success (Linux), so what was written since the last checkpoint can
   * no longer be staged. So does a failed rename to the pending name: the file is then not where a
   * checkpoint could find it. Every later call fails, the task restarts from the last checkpoint,
   * and abortLeftovers removes the file.
   */
  private durably(what: string, sync: () => void): void {
    try {
      sync();
    } catch (err) {
      this.failure = new RiffleError("SINK_WRITE_FAILED", `exactly-once file sink: cannot ${what}: ${describeError(err)}`, { cause: err });
      throw this.failure;
    }
  }

  /**
   * Gives the staged file its committed name without ever replacing a file of that name: a hard link,
   * then the pending name goes. A job restored from an older savepoint commits under the names its
   * checkpoints had the first time (`part-<subtask>-<id>`, ids going on from the savepoint's), and
   * must not overwrite what the earlier job committed under them: when another file has the name,
   * the file is committed beside it, under the name followed by the id of the job that staged it
   * (Flink's FileSink puts a unique id in every part name for the same reason). Idempotent: a file
   * committed before a failure (or by another subtask after a rescale) is in place already, its
   * pending name gone or (a failure between link and unlink) the same file under one of the two
   * names. Concurrent too: checkpoints taken while pending commits were union state had every
   * subtask commit every transaction at the same moment after a restore (decision record 0012 made
   * them split state); one that finds a name taken and the pending file gone lost the race to
   * another subtask that committed it.
   */
  commit(txn: StagedFile): void {
    const pending = join(this.dir, txn.tmp);
    const names = [txn.final, `${txn.final}-${HIDDEN.exec(txn.tmp)?.[2] ?? this.job}`];
    const committed = names.find((name) => this.link(pending, join(this.dir, name)));
    if (committed === undefined) {
      throw new RiffleError(
        "SINK_WRITE_FAILED",
        `exactly-once file sink: cannot commit ${txn.tmp} in ${this.dir}: other files have both its names (${names.join(", ")}); move them out of ${this.dir}, or give the job another directory`,
      );
    }
    rmSync(pending, { force: true });
    // Synced also when the commit had been done before: its names may not have reached the disk. A
    // failure here fails the task, and the restore commits the file again.
    try {
      this.sync.directory(this.dir);
    } catch (err) {
      throw new RiffleError(
        "SINK_WRITE_FAILED",
        `exactly-once file sink: cannot sync the directory ${this.dir} after committing ${committed}: ${describeError(err)}`,
        {
          cause: err,
        },
      );
    }
  }

  /**
   * Links the pending file to `final`: true when the file is committed under that name now or was
   * before (the pending name gone, or both names one file), false when another file has the name.
   */
  private link(pending: string, final: string): boolean {
    try {
      linkSync(pending, final);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Committed before (a restore commits again): only the directory's sync is left to do.
      if (code === "ENOENT" && existsSync(final)) return true;
      if (code !== "EEXIST") throw err;
      return !existsSync(pending) || sameFile(pending, final);
    }
  }

  /**
   * Deletes this subtask's files of this job that nothing will commit: in-progress files (in no
   * checkpoint), and pending files staged for checkpoints newer than every checkpoint or savepoint
   * that may still be restored. A pending file staged up to `retainedUpTo` stays: a savepoint newer
   * than the restored checkpoint may hold it. Other jobs' files are theirs (and their savepoints').
   */
  abortLeftovers(staged: readonly StagedFile[], restored: RestoredCheckpoint): void {
    const keep = new Set(staged.map((s) => s.tmp));
    for (const name of readdirSync(this.dir)) {
      const m = HIDDEN.exec(name);
      if (!m || Number(m[1]) !== this.subtask || m[2] !== this.job || keep.has(name)) continue;
      const stagedFor = m[3] === undefined ? undefined : Number(m[3]);
      if (stagedFor === undefined || stagedFor > restored.retainedUpTo) rmSync(join(this.dir, name), { force: true });
    }
  }

  /** The in-progress file is in no checkpoint: nothing can ever commit it, so it goes with the writer. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    if (this.tmp !== undefined) rmSync(join(this.dir, this.tmp), { force: true });
    this.tmp = undefined;
  }
}
