import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isAlive, loadConfig } from "@riffle/shared";
import { afterAll, describe, expect, it } from "vitest";
import { silentLogger } from "../testing/fixtures.js";
import { ProcessProvider } from "./process-provider.js";

/**
 * Adoption by the process provider against real processes: a record's pid must run the riffle CLI
 * *as that TaskManager*. A pid reused by another riffle process (another TaskManager, the CLI of
 * another cluster) is neither adopted nor, later, signalled.
 */
const dir = mkdtempSync(join(tmpdir(), "riffle-process-provider-"));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** A live process whose command line is a riffle TaskManager's (`node <entry> taskmanager ... --set taskmanager.id=<id>`), idling. */
async function fakeTaskManager(entry: string, id: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1e9)", entry, "taskmanager", "--set", `taskmanager.id=${id}`], { stdio: "ignore" });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  return child;
}

describe("process provider adoption", () => {
  it("adopts a recorded pid only while it runs the riffle CLI as that TaskManager; another riffle process on the pid is left alone", async () => {
    const entry = join(dir, "main.js");
    const records = join(dir, "taskmanagers");
    const provider = new ProcessProvider({
      config: loadConfig({ env: {}, overrides: {} }),
      entry,
      dir: records,
      jobmanagerAddress: "127.0.0.1:1",
      logger: silentLogger,
    });
    // The pid now runs the riffle CLI as taskmanager-other (of another cluster, say), not as taskmanager-mine.
    const other = await fakeTaskManager(entry, "taskmanager-other");
    const record = (id: string) => `${JSON.stringify({ id, pid: other.pid, entry, startedAt: 1 })}\n`;
    writeFileSync(join(records, "taskmanager-mine.json"), record("taskmanager-mine"));
    expect(await provider.list()).toEqual([]);
    expect(existsSync(join(records, "taskmanager-mine.json"))).toBe(false);
    // Nothing asked it to stop: it runs on.
    await provider.stop("taskmanager-mine");
    expect(isAlive(other.pid!)).toBe(true);

    // Recorded under its own id, the same process is adopted.
    writeFileSync(join(records, "taskmanager-other.json"), record("taskmanager-other"));
    expect(await provider.list()).toEqual([{ id: "taskmanager-other", startedAt: 1, where: `pid ${other.pid}` }]);
    // A record of another machine (the HA storage is shared): neither adopted nor removed.
    writeFileSync(
      join(records, "taskmanager-elsewhere.json"),
      `${JSON.stringify({ id: "taskmanager-far", pid: other.pid, entry, startedAt: 1, host: "another-machine" })}\n`,
    );
    expect(await provider.list()).toHaveLength(1);
    expect(existsSync(join(records, "taskmanager-elsewhere.json"))).toBe(true);
    const exited = new Promise((resolve) => other.once("exit", resolve));
    await provider.stop("taskmanager-other");
    expect(await exited).toBe(null);
    await provider.close(false);
  });
});
