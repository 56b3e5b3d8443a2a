import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, readdir, rename, rm, unlink } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { RiffleError } from "@riffle/shared";

/**
 * `high-availability.storageDir/<cluster-id>/`: what high availability keeps outside etcd (job graphs
 * too large for an etcd record), where every JobManager of the cluster can read it. Files are written
 * whole or not at all (temporary file, fsync, rename), and named by content where they can be, so a
 * rewrite never changes a file another JobManager may be reading.
 */
export class HaStorageDir {
  constructor(readonly root: string) {}

  /** Creates the directory and writes a probe file: HA_STORAGE_FAILED, naming the key, when it cannot. */
  async check(): Promise<void> {
    const probe = join(this.root, `.probe-${process.pid}-${randomBytes(4).toString("hex")}`);
    try {
      await mkdir(this.root, { recursive: true });
      const file = await open(probe, "w");
      await file.writeFile("riffle");
      await file.close();
      await unlink(probe);
    } catch (err) {
      throw this.failed(`high-availability.storageDir ${this.root} is not writable`, err);
    }
  }

  path(rel: string): string {
    const abs = resolve(this.root, rel);
    if (!abs.startsWith(this.root + sep)) {
      throw new RiffleError("INTERNAL", `${rel} is outside the HA storage directory`);
    }
    return abs;
  }

  /** Writes `rel` atomically and durably. */
  async write(rel: string, data: string | Uint8Array): Promise<void> {
    const target = this.path(rel);
    const tmp = `${target}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    try {
      await mkdir(dirname(target), { recursive: true });
      const file = await open(tmp, "w");
      try {
        await file.writeFile(data);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {});
      throw this.failed(`cannot write ${target}`, err);
    }
  }

  async read(rel: string): Promise<string> {
    const target = this.path(rel);
    try {
      return await readFile(target, "utf8");
    } catch (err) {
      throw this.failed(`cannot read ${target}`, err);
    }
  }

  /** Files directly in `relDir`; none when it does not exist. */
  async list(relDir: string): Promise<string[]> {
    try {
      return await readdir(this.path(relDir));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw this.failed(`cannot list ${this.path(relDir)}`, err);
    }
  }

  /** Removes a file or a directory tree; nothing to remove is fine. */
  async remove(rel: string): Promise<void> {
    const target = this.path(rel);
    try {
      await rm(target, { recursive: true, force: true });
    } catch (err) {
      throw this.failed(`cannot remove ${target}`, err);
    }
  }

  private failed(what: string, err: unknown): RiffleError {
    return new RiffleError("HA_STORAGE_FAILED", `${what}: ${(err as Error).message}; it must be a writable directory every JobManager of the cluster sees`, {
      cause: err,
    });
  }
}
