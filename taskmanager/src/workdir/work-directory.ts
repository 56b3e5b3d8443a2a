import { randomBytes } from "node:crypto";
import { lstatSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import type { Server } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { RiffleError, describeError, type Logger } from "@riffle/shared";
import { UNKNOWN_BOOT, ownHost, type HostIdentity } from "./host-identity.js";
import { SocketDirectory, listenAsOwner, probeOwner, type OwnerAnswer } from "./owner-socket.js";

/**
 * A TaskManager's work directory (job bundles, the LevelDB state of its slots' tasks), and beside it
 * the socket that says whether its owner still runs (owner-socket.ts):
 *
 *   <root>/riffle-tm-<host>-<boot>-<random>        the directory
 *   <root>/riffle-tm-<host>-<boot>-<random>.sock   its owner's socket
 *
 * The owner binds the socket before it makes the directory, and removes the directory before it
 * closes the socket: a directory always has its socket. A TaskManager removes its directory when it
 * shuts down; one killed (SIGKILL, OOM, power loss) cannot, so every TaskManager starting under the
 * same root first removes the directories whose owner is gone. Which ones it may judge, by what their
 * names record (host name and boot id, see HostIdentity):
 *
 *   the same boot id: this kernel, whatever        the socket tells (a replaced pod's host name
 *   the host name (containers, pods)                changed, its directories go all the same)
 *   another boot id                                 left alone: an earlier boot of this host, or
 *                                                   another machine sharing the root whose host
 *                                                   name is the same (compose replicas on two
 *                                                   nodes); its socket would refuse from here in
 *                                                   both cases. Most systems empty /tmp at boot.
 *   a boot id unknown (no /proc)                    the socket tells if the host name is the same,
 *                                                   else left alone
 *
 * Neither the name nor the socket's answer identifies the owner's process, and neither needs to: a
 * pid would mean nothing outside its PID namespace. Nothing else under the root is touched: other
 * names, directories without a socket (an external cleaner removed it: nothing to go on), sockets
 * without a directory (left by a process killed between the two steps: a few bytes).
 */
const PREFIX = "riffle-tm-";
const SOCKET = ".sock";
const NAME = /^riffle-tm-([0-9a-f]{8})-([0-9a-f]{8}|0)-[0-9a-f]{12}$/;

/** The host a work directory's name records; undefined for names that are not a work directory's. */
export function workDirectoryOwner(name: string): HostIdentity | undefined {
  const m = NAME.exec(name);
  return m ? { host: m[1]!, boot: m[2]! } : undefined;
}

/** The root a TaskManager's work directory goes in: the configured one, else the OS temp directory. */
export function workDirectoryRoot(configured: string): string {
  return resolve(configured || tmpdir());
}

/** Whether the owner of the directory `name` under the root still runs, as far as this host can tell. */
async function ownerAnswer(name: string, owner: HostIdentity, self: HostIdentity, sockets: SocketDirectory): Promise<OwnerAnswer> {
  const bootsKnown = owner.boot !== UNKNOWN_BOOT && self.boot !== UNKNOWN_BOOT;
  if (bootsKnown && owner.boot !== self.boot) return "unknown";
  if (!bootsKnown && owner.host !== self.host) return "unknown";
  try {
    // Only a socket can refuse a connection for the right reason.
    if (!lstatSync(join(sockets.dir, name + SOCKET)).isSocket()) return "unknown";
  } catch {
    return "absent";
  }
  return probeOwner(sockets.address(name + SOCKET));
}

/**
 * Removes the work directories under `root` whose owner is gone, with their sockets. Returns the
 * removed directories. One that cannot be removed (another user's) is logged and left.
 */
export async function sweepWorkDirectories(root: string, log: Logger, self: HostIdentity = ownHost()): Promise<string[]> {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch (err) {
    log.warn({ root, err: describeError(err) }, "could not look for work directories of earlier TaskManagers");
    return [];
  }
  const sockets = new SocketDirectory(root);
  const removed: string[] = [];
  try {
    for (const name of names) {
      const owner = workDirectoryOwner(name);
      if (!owner || (await ownerAnswer(name, owner, self, sockets)) !== "gone") continue;
      const path = join(root, name);
      try {
        rmSync(path, { recursive: true, force: true });
        rmSync(path + SOCKET, { force: true });
        removed.push(path);
        log.info({ path }, "removed the work directory of a TaskManager that is no longer running");
      } catch (err) {
        log.warn({ path, err: describeError(err) }, "could not remove the work directory of an earlier TaskManager");
      }
    }
  } finally {
    sockets.close();
  }
  return removed;
}

/**
 * This process's work directory, from its creation at the TaskManager's start to its removal at
 * shutdown.
 *
 * ```ts
 * const dir = await WorkDirectory.create(workDirectoryRoot(config["taskmanager.tmp.dir"]), log);
 * // ... bundles and state under dir.path ...
 * await dir.remove();
 * ```
 */
export class WorkDirectory {
  private removed = false;

  private constructor(
    readonly path: string,
    private readonly owner: Server,
    private readonly sockets: SocketDirectory,
    private readonly log: Logger,
  ) {}

  /**
   * Creates the directory under `root` (created if missing), after removing those of TaskManagers
   * that are gone. Throws WORKDIR_FAILED when it cannot be made.
   */
  static async create(root: string, log: Logger, self: HostIdentity = ownHost()): Promise<WorkDirectory> {
    const sockets = new SocketDirectory(root);
    try {
      mkdirSync(root, { recursive: true });
      await sweepWorkDirectories(root, log, self);
      const name = `${PREFIX}${self.host}-${self.boot}-${randomBytes(6).toString("hex")}`;
      const owner = await listenAsOwner(sockets.address(name + SOCKET));
      try {
        // Private, as mkdtemp makes them: job bundles and state are the user's.
        mkdirSync(join(root, name), { mode: 0o700 });
      } catch (err) {
        owner.close();
        throw err;
      }
      return new WorkDirectory(join(root, name), owner, sockets, log);
    } catch (err) {
      sockets.close();
      if (err instanceof RiffleError) throw err;
      throw new RiffleError(
        "WORKDIR_FAILED",
        `cannot create the TaskManager's work directory under ${root}: ${describeError(err)}; set taskmanager.tmp.dir to a writable directory with free space`,
        { cause: err },
      );
    }
  }

  /** Removes the directory, then its socket. A failure is logged, never thrown (the process ends anyway). */
  async remove(): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    try {
      rmSync(this.path, { recursive: true, force: true });
    } catch (err) {
      this.log.warn({ path: this.path, err: describeError(err) }, "could not remove the work directory");
    }
    // Closing the server removes the socket file.
    await new Promise<void>((done) => this.owner.close(() => done()));
    this.sockets.close();
  }
}
