import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createLogger } from "@riffle/shared";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { childrenOf, killOnExit, waitUntilDead } from "../../../e2e/harness/children.js";
import { WorkDirectory, ownHost, workDirectoryOwner, sweepWorkDirectories, type HostIdentity } from "./index.js";

const OWNER = fileURLToPath(new URL("../testing/work-directory-owner.ts", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "riffle-workdir-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const log = createLogger("workdir-test");
const self = ownHost();
const onLinux = process.platform === "linux";
/** Another PID namespace needs root (CI runs the tests as root) and util-linux's unshare. */
const canUnshare = onLinux && process.getuid?.() === 0;

let roots = 0;
const freshRoot = () => {
  const dir = join(root, `r${roots++}`);
  mkdirSync(dir);
  return dir;
};
const other = (hash: string) => (hash === "aaaaaaaa" ? "bbbbbbbb" : "aaaaaaaa");

/** A directory named as a TaskManager on `owner` would name it, with state but without a socket. */
function workDirOf(dir: string, owner: HostIdentity): string {
  const path = join(dir, `riffle-tm-${owner.host}-${owner.boot}-0123456789ab`);
  mkdirSync(path);
  writeFileSync(join(path, "000001.log"), "x");
  return path;
}

interface Owner {
  /** The process that owns the directory (under a wrapper: the wrapper's child). */
  pid: number;
  path: string;
  wrapper: ChildProcess;
}

const started: Owner[] = [];
afterEach(() => {
  for (const o of started.splice(0)) {
    for (const pid of [o.pid, o.wrapper.pid!]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
  }
});

/**
 * A process owning a work directory under `dir` (taskmanager/src/testing/work-directory-owner.ts),
 * run through `wrapper` when given (a command that runs the rest of its arguments in a child);
 * resolves once the directory exists.
 */
async function startOwner(dir: string, options: { wrapper?: string[]; host?: string } = {}): Promise<Owner> {
  const command = [process.execPath, "--import", "tsx", OWNER, dir, ...(options.host ? [options.host] : [])];
  const [file, ...args] = [...(options.wrapper ?? []), ...command];
  const child = spawn(file!, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "inherit"] });
  killOnExit(child);
  const path = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the owner process did not create its directory within 20 s")), 20_000);
    createInterface({ input: child.stdout! }).once("line", (line) => {
      clearTimeout(timer);
      resolve(line);
    });
    child.once("exit", (code) => reject(new Error(`the owner process exited with ${code}`)));
  });
  const owner = { pid: options.wrapper ? childrenOf(child.pid!)[0]! : child.pid!, path, wrapper: child };
  started.push(owner);
  return owner;
}

async function kill(owner: Owner): Promise<"gone" | "zombie"> {
  process.kill(owner.pid, "SIGKILL");
  return waitUntilDead(owner.pid);
}

describe("TaskManager work directories", () => {
  it("are named for their host, have their owner's socket beside them, and survive their owner's sweep", async () => {
    const dir = freshRoot();
    const mine = await WorkDirectory.create(dir, log);
    const name = mine.path.slice(dir.length + 1);
    expect(workDirectoryOwner(name)).toEqual(self);
    expect(lstatSync(`${mine.path}.sock`).isSocket()).toBe(true);
    // Private: bundles and state are the user's.
    expect(lstatSync(mine.path).mode & 0o777).toBe(0o700);
    expect(await sweepWorkDirectories(dir, log)).toEqual([]);
    expect(existsSync(mine.path)).toBe(true);
    await mine.remove();
    expect(readdirSync(dir)).toEqual([]);
  });

  it("at start, removes the directories of killed TaskManagers and keeps those of live ones", async () => {
    const dir = freshRoot();
    const [killed, live] = await Promise.all([startOwner(dir), startOwner(dir)]);
    await kill(killed);
    // Left behind, socket and all: nobody removed them.
    expect(readdirSync(killed.path)).toEqual(["000001.log"]);
    const mine = await WorkDirectory.create(dir, log);
    expect(existsSync(killed.path)).toBe(false);
    expect(existsSync(`${killed.path}.sock`)).toBe(false);
    expect(existsSync(live.path)).toBe(true);

    // Stopped, the live one removes its own.
    process.kill(live.pid, "SIGTERM");
    await waitUntilDead(live.pid);
    expect(readdirSync(dir).sort()).toEqual([mine.path, `${mine.path}.sock`].map((p) => p.slice(dir.length + 1)).sort());
    await mine.remove();
  });

  it("keeps the directory of a frozen TaskManager (SIGSTOP), and answers at once", async () => {
    const dir = freshRoot();
    const owner = await startOwner(dir);
    process.kill(owner.pid, "SIGSTOP");
    try {
      // The kernel queues the connection for the frozen listener: alive, without waiting for it.
      const started = Date.now();
      expect(await sweepWorkDirectories(dir, log)).toEqual([]);
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(existsSync(owner.path)).toBe(true);
    } finally {
      process.kill(owner.pid, "SIGCONT");
    }
    await kill(owner);
    expect(await sweepWorkDirectories(dir, log)).toEqual([owner.path]);
  });

  it.runIf(onLinux)("removes the directory of a killed TaskManager its parent has not reaped yet (a zombie)", async () => {
    const dir = freshRoot();
    // The shell execs sleep, which never waits for its children: the killed owner stays a zombie.
    const owner = await startOwner(dir, { wrapper: ["sh", "-c", '"$@" & exec sleep 600', "sh"] });
    expect(await kill(owner)).toBe("zombie");
    expect(await sweepWorkDirectories(dir, log)).toEqual([owner.path]);
  });

  it.runIf(canUnshare)("judges a TaskManager in another PID namespace by its socket, not by a pid", async () => {
    const dir = freshRoot();
    // Pid 1 in its namespace; pid 1 out here is another process, alive.
    const owner = await startOwner(dir, { wrapper: ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"] });
    const mine = await WorkDirectory.create(dir, log);
    expect(existsSync(owner.path)).toBe(true);
    await kill(owner);
    expect(await sweepWorkDirectories(dir, log)).toEqual([owner.path]);
    await mine.remove();
  });

  it("removes what a TaskManager of another host name on this kernel left (a replaced pod), and keeps it while it runs", async () => {
    const dir = freshRoot();
    const [gone, live] = await Promise.all([startOwner(dir, { host: other(self.host) }), startOwner(dir, { host: other(self.host) })]);
    await kill(gone);
    expect(await sweepWorkDirectories(dir, log)).toEqual([gone.path]);
    expect(existsSync(live.path)).toBe(true);
  });

  it.runIf(onLinux)(
    "leaves alone what it cannot judge: another boot's directories (another machine may have this host name), no socket, other names",
    async () => {
      const dir = freshRoot();
      // An earlier boot of this host, or another machine with the same host name: no telling which.
      const earlierBoot = workDirOf(dir, { ...self, boot: other(self.boot) });
      // Another machine sharing the root: its sockets answer only there.
      const otherMachine = workDirOf(dir, { host: other(self.host), boot: other(self.boot) });
      // This kernel's, but without a socket (something else removed it): nothing to go on.
      const noSocket = workDirOf(dir, self);
      // A work directory of a Riffle version that named its owner by pid, and other people's files.
      mkdirSync(join(dir, `riffle-tm-${self.host}-${self.boot}-4242-1234-AbC123`));
      mkdirSync(join(dir, "riffle-e2e-Xy12Zw"));
      writeFileSync(join(dir, `riffle-tm-${self.host}-${self.boot}-0123456789ac`), "a file, not a work directory of ours");
      expect(await sweepWorkDirectories(dir, log)).toEqual([]);
      expect([earlierBoot, otherMachine, noSocket].every((p) => existsSync(p))).toBe(true);
      expect(readdirSync(dir)).toHaveLength(6);
    },
  );

  it.runIf(onLinux)("works under a root whose path is too long for a Unix socket's address", async () => {
    const dir = join(freshRoot(), "a-directory-with-a-long-name-".repeat(3));
    const owner = await startOwner(dir);
    expect(Buffer.byteLength(`${owner.path}.sock`)).toBeGreaterThan(108);
    const mine = await WorkDirectory.create(dir, log);
    expect(existsSync(owner.path)).toBe(true);
    await kill(owner);
    expect(await sweepWorkDirectories(dir, log)).toEqual([owner.path]);
    await mine.remove();
    expect(readdirSync(dir)).toEqual([]);
  });

  it("says what to do when the directory cannot be made", async () => {
    const file = join(root, "a-regular-file");
    writeFileSync(file, "x");
    await expect(WorkDirectory.create(join(file, "tmp"), log)).rejects.toThrow(
      expect.objectContaining({ code: "WORKDIR_FAILED", message: expect.stringContaining("set taskmanager.tmp.dir to a writable directory") }),
    );
  });
});
