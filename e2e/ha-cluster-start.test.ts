import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "@riffle/shared";
import type { HighAvailabilityInfo } from "@riffle/shared/rest-api";
import { afterAll, describe, expect, it } from "vitest";
import { CLI } from "./harness/index.js";

const run = promisify(execFile);

/** `riffle <args>` in `cwd`; resolves with its exit code and output whatever the code. */
async function riffle(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/** Whether the process runs (a zombie, dead but not reaped by whoever inherited it, does not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/\)\s+Z\s/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Issue 10, operations: `riffle cluster start --jobmanagers 3 --ha` and `cluster stop`. */
describe("riffle cluster start --ha", () => {
  const dir = mkdtempSync(join(tmpdir(), "riffle-cluster-ha-"));
  afterAll(async () => {
    await riffle(["cluster", "stop"], dir);
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses several JobManagers without --ha", async () => {
    const res = await riffle(["cluster", "start", "--jobmanagers", "2"], dir);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/error\[CONFIG_INVALID\].*2 JobManagers need high availability: add --ha/);
  });

  it("starts a local etcd, 3 JobManagers (one leads) and a TaskManager; cluster stop stops them all, etcd last", async () => {
    const rest = await freePort();
    const rpc = await freePort();
    const start = await riffle(
      ["cluster", "start", "--jobmanagers", "3", "--ha", "--taskmanagers", "1", "--set", `rest.port=${rest}`, "--set", `jobmanager.rpc.port=${rpc}`],
      dir,
    );
    expect(start.code, start.stderr).toBe(0);
    expect(start.stdout).toContain("Cluster started: 3 JobManagers");
    const state = JSON.parse(readFileSync(join(dir, ".riffle/cluster.json"), "utf8")) as {
      processes: Array<{ name: string; role: string; pid: number; restPort?: number }>;
    };
    expect(state.processes.map((p) => p.role).sort()).toEqual(["etcd", "jobmanager", "jobmanager", "jobmanager", "taskmanager"]);
    const roles = await Promise.all(
      state.processes
        .filter((p) => p.role === "jobmanager")
        .map(async (p) => ((await (await fetch(`http://127.0.0.1:${p.restPort}/jobmanager/ha`)).json()) as HighAvailabilityInfo).role),
    );
    expect(roles.filter((r) => r === "leader")).toHaveLength(1);
    // Each JobManager knows them all: TaskManagers its provider would start follow the leader.
    const jm = state.processes.find((p) => p.role === "jobmanager")!;
    const cfg = (await (await fetch(`http://127.0.0.1:${jm.restPort}/jobmanager/config`)).json()) as Array<{ key: string; value: string }>;
    expect(cfg.find((e) => e.key === "taskmanager.jobmanager.address")?.value).toBe(`127.0.0.1:${rpc},127.0.0.1:${rpc + 1},127.0.0.1:${rpc + 2}`);

    const stop = await riffle(["cluster", "stop"], dir);
    expect(stop.code).toBe(0);
    expect(stop.stdout.trim().split("\n").at(-2)).toMatch(/^etcd \(pid \d+\) stopped$/);
    for (const p of state.processes) expect(alive(p.pid), p.name).toBe(false);
  }, 180_000);
});
