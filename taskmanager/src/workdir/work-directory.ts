import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { RiffleError, describeError, type Logger } from "@riffle/shared";
import { mayBeAlive, ownIdentity, type ProcessIdentity } from "./process-identity.js";

/**
 * A TaskManager's work directory (job bundles, LevelDB state of its tasks), named for the process that
 * owns it:
 *
 *   <root>/riffle-tm-<host>-<boot>-<pid>-<start>-<random>
 *
 * The name is the whole record of ownership: it exists from the atomic mkdir on, so no other
 * TaskManager ever sees a directory whose owner it cannot tell. A TaskManager removes its directory
 * when it shuts down; one killed (SIGKILL, OOM, power loss) cannot, so every TaskManager starting
 * under the same root first removes the directories of owners that are gone. It touches only names
 * of this form, and only those of its own host: another host's processes (a root shared between
 * machines or containers) cannot be checked from here.
 */
const PREFIX = "riffle-tm-";
const NAME = /^riffle-tm-([0-9a-f]{8})-([0-9a-f]{8}|0)-(\d+)-(\d+)-[A-Za-z0-9]{6}$/;

/** The owner a work directory's name records; undefined for names that are not a work directory's. */
export function ownerOf(name: string): ProcessIdentity | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  return { host: m[1]!, boot: m[2]!, pid: Number(m[3]), start: m[4]! };
}

/** The root a TaskManager's work directory goes in: the configured one, else the OS temp directory. */
export function workDirectoryRoot(configured: string): string {
  return resolve(configured || tmpdir());
}

/**
 * Removes the work directories under `root` whose owner is no longer running. Returns the removed
 * paths. A directory that cannot be removed (another user's) is logged and left.
 */
export function sweepWorkDirectories(root: string, log: Logger, self: ProcessIdentity = ownIdentity()): string[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch (err) {
    log.warn({ root, err: describeError(err) }, "could not look for work directories of earlier TaskManagers");
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const owner = ownerOf(name);
    if (!owner || owner.host !== self.host || mayBeAlive(owner, self)) continue;
    const path = join(root, name);
    try {
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
      log.info({ path, ownerPid: owner.pid }, `removed the work directory of TaskManager process ${owner.pid}, which is no longer running`);
    } catch (err) {
      log.warn({ path, err: describeError(err) }, "could not remove the work directory of an earlier TaskManager");
    }
  }
  return removed;
}

/**
 * Creates this process's work directory under `root` (created if missing), after removing those of
 * earlier TaskManagers that are gone. Throws WORKDIR_FAILED when the directory cannot be made.
 */
export function createWorkDirectory(root: string, log: Logger, self: ProcessIdentity = ownIdentity()): string {
  try {
    mkdirSync(root, { recursive: true });
    sweepWorkDirectories(root, log, self);
    return mkdtempSync(join(root, `${PREFIX}${self.host}-${self.boot}-${self.pid}-${self.start}-`));
  } catch (err) {
    throw new RiffleError(
      "WORKDIR_FAILED",
      `cannot create the TaskManager's work directory under ${root}: ${describeError(err)}; set taskmanager.tmp.dir to a writable directory with free space`,
      { cause: err },
    );
  }
}

/** Removes a work directory at shutdown; a failure is logged, never thrown (the process ends anyway). */
export function removeWorkDirectory(path: string, log: Logger): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch (err) {
    log.warn({ path, err: describeError(err) }, "could not remove the work directory");
  }
}
