import { mkdirSync } from "node:fs";
import { copyFile, mkdir, open, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { RiffleError, type CheckpointMetadata } from "@riffle/shared";

/** Name of the file that makes a checkpoint directory a completed checkpoint. */
export const METADATA_FILE = "_metadata";

/**
 * Where the coordinator keeps checkpoints. Tasks write their state files into the checkpoint's
 * directory themselves; the coordinator creates the directory, adds the files of finished tasks,
 * seals the checkpoint with `_metadata` and deletes checkpoints no longer retained.
 *
 *   <jobDir>/chk-<n>/_metadata
 *   <jobDir>/chk-<n>/<state files named in the handles>
 *   <target>/savepoint-<job>-<n>-<time>/...   the same layout, in a directory the user chose
 */
export interface CheckpointStorage {
  /** Absolute directory of checkpoint `id` (`<jobDir>/chk-<id>`). */
  checkpointDir(id: number): string;
  /** Creates the directory of checkpoint `id` and returns its absolute path; CHECKPOINT_STORAGE_FAILED if it cannot. */
  initializeCheckpoint(id: number): string;
  /** Creates the directory of a savepoint (absolute); CHECKPOINT_STORAGE_FAILED naming it if it cannot. */
  initializeSavepoint(dir: string): void;
  /** Copies files named relative to `fromDir` to the same relative paths under `toDir`. */
  copyFiles(fromDir: string, toDir: string, paths: readonly string[]): Promise<void>;
  /** Writes `<dir>/_metadata` so that a reader sees all of it or none of it. */
  writeMetadata(dir: string, metadata: CheckpointMetadata): Promise<void>;
  /** Deletes a checkpoint directory with everything in it. */
  discard(dir: string): Promise<void>;
}

/** Checkpoints as directories of a (shared) file system. */
export class FileSystemCheckpointStorage implements CheckpointStorage {
  /** @param jobDir absolute directory of one job's checkpoints */
  constructor(readonly jobDir: string) {}

  checkpointDir(id: number): string {
    return join(this.jobDir, `chk-${id}`);
  }

  initializeCheckpoint(id: number): string {
    const dir = this.checkpointDir(id);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw storageError(`cannot create the directory of checkpoint ${id} (${dir})`, err);
    }
    return dir;
  }

  initializeSavepoint(dir: string): void {
    try {
      // Exclusive: two savepoints never share a directory, and an existing one is never written into.
      mkdirSync(dirname(dir), { recursive: true });
      mkdirSync(dir);
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      throw new RiffleError(
        "CHECKPOINT_STORAGE_FAILED",
        `cannot create the savepoint directory ${dir}: ${detail}; choose a target directory this JobManager and every TaskManager can write (target-directory, or state.savepoints.dir)`,
        { cause: err },
      );
    }
  }

  async copyFiles(fromDir: string, toDir: string, paths: readonly string[]): Promise<void> {
    for (const path of paths) {
      const target = join(toDir, path);
      try {
        await mkdir(dirname(target), { recursive: true });
        await copyFile(join(fromDir, path), target);
      } catch (err) {
        throw storageError(`cannot copy state file ${path} from ${fromDir} to ${toDir}`, err);
      }
    }
  }

  async writeMetadata(dir: string, metadata: CheckpointMetadata): Promise<void> {
    const path = join(dir, METADATA_FILE);
    const tmp = `${path}.tmp`;
    try {
      // Synced before the rename: after a crash, a _metadata that exists is complete.
      const file = await open(tmp, "w");
      try {
        await file.writeFile(JSON.stringify(metadata));
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(tmp, path);
    } catch (err) {
      throw storageError(`cannot write ${path}`, err);
    }
  }

  async discard(dir: string): Promise<void> {
    try {
      await rm(dir, { recursive: true, force: true });
    } catch (err) {
      // A directory below a regular file (a savepoint target that was never creatable) cannot exist.
      if ((err as NodeJS.ErrnoException).code !== "ENOTDIR") throw err;
    }
  }
}

function storageError(what: string, err: unknown): RiffleError {
  const detail = err instanceof Error ? err.message : String(err);
  return new RiffleError("CHECKPOINT_STORAGE_FAILED", `${what}: ${detail}; check that state.checkpoints.dir is writable and has free space`, {
    cause: err,
  });
}
