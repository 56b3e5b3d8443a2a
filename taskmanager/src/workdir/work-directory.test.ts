import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@riffle/shared";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createWorkDirectory, ownerOf, ownIdentity, removeWorkDirectory, startTimeOf, sweepWorkDirectories, type ProcessIdentity } from "./index.js";

const root = mkdtempSync(join(tmpdir(), "riffle-workdir-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const log = createLogger("workdir-test");
const self = ownIdentity();
const onLinux = process.platform === "linux";

let roots = 0;
const freshRoot = () => {
  const dir = join(root, `r${roots++}`);
  mkdirSync(dir);
  return dir;
};

/** The directory a TaskManager with this identity would have made, with some state in it. */
function workDirOf(dir: string, owner: ProcessIdentity): string {
  const path = join(dir, `riffle-tm-${owner.host}-${owner.boot}-${owner.pid}-${owner.start}-AbC123`);
  mkdirSync(join(path, "state"), { recursive: true });
  writeFileSync(join(path, "state", "000001.log"), "x");
  return path;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
});

/** A live process other than this one, with its pid and start time. */
async function liveProcess(): Promise<{ child: ChildProcess; pid: number; start: string }> {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  children.push(child);
  await new Promise((r) => child.once("spawn", r));
  return { child, pid: child.pid!, start: startTimeOf(child.pid!) ?? "0" };
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((r) => child.once("exit", r));
  return child.pid!;
}

describe("TaskManager work directories", () => {
  it("are named for their owner, and a TaskManager's own directory survives its sweep", () => {
    const dir = freshRoot();
    const path = createWorkDirectory(dir, log);
    expect(ownerOf(path.slice(dir.length + 1))).toEqual(self);
    expect(sweepWorkDirectories(dir, log)).toEqual([]);
    expect(existsSync(path)).toBe(true);
    removeWorkDirectory(path, log);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("at start, removes the directories of TaskManagers that are gone and keeps those of live ones", async () => {
    const dir = freshRoot();
    const gone = workDirOf(dir, { ...self, pid: await deadPid(), start: "1234" });
    const live = await liveProcess();
    const alive = workDirOf(dir, { ...self, pid: live.pid, start: live.start });
    const mine = createWorkDirectory(dir, log);
    expect(existsSync(gone)).toBe(false);
    expect(existsSync(alive)).toBe(true);
    expect(existsSync(mine)).toBe(true);

    live.child.kill("SIGKILL");
    await new Promise((r) => live.child.once("exit", r));
    expect(sweepWorkDirectories(dir, log)).toEqual([alive]);
    expect(readdirSync(dir)).toEqual([mine.slice(dir.length + 1)]);
  });

  it.runIf(onLinux)("tells a reused pid from its first owner by the start time", async () => {
    const dir = freshRoot();
    const live = await liveProcess();
    // The pid is alive, but the process that made the directory started at another time.
    const reused = workDirOf(dir, { ...self, pid: live.pid, start: String(Number(live.start) + 1) });
    // Or the machine rebooted since: every process of the earlier boot is gone, whatever runs under its pid now.
    const otherBoot = workDirOf(dir, { ...self, boot: self.boot === "aaaaaaaa" ? "bbbbbbbb" : "aaaaaaaa", pid: process.pid });
    expect(sweepWorkDirectories(dir, log).sort()).toEqual([otherBoot, reused].sort());
  });

  it("leaves alone what it cannot judge: another host's directories, and names not of its kind", async () => {
    const dir = freshRoot();
    const pid = await deadPid();
    const otherHost = workDirOf(dir, { ...self, host: self.host === "aaaaaaaa" ? "bbbbbbbb" : "aaaaaaaa", pid, start: "1" });
    // A work directory of a Riffle version that did not name its owner, and other people's files.
    mkdirSync(join(dir, "riffle-tm-Xy12Zw"));
    mkdirSync(join(dir, "riffle-e2e-Xy12Zw"));
    writeFileSync(join(dir, `riffle-tm-${self.host}-${self.boot}-${pid}-1-AbC123.txt`), "a file, not a work directory of ours");
    expect(sweepWorkDirectories(dir, log)).toEqual([]);
    expect(existsSync(otherHost)).toBe(true);
    expect(readdirSync(dir)).toHaveLength(4);
  });

  it("says what to do when the directory cannot be made", () => {
    const file = join(root, "a-regular-file");
    writeFileSync(file, "x");
    expect(() => createWorkDirectory(join(file, "tmp"), log)).toThrow(
      expect.objectContaining({ code: "WORKDIR_FAILED", message: expect.stringContaining("set taskmanager.tmp.dir to a writable directory") }),
    );
  });
});
