/**
 * TaskManager start time per provider: from the JobManager's request ("starting TaskManager <id>" in
 * its log) to the TaskManager's registration ("TaskManager registered", the same log, the same
 * clock), beside a bare `node` process started in the same run (spawn → its first line of output).
 * Providers: `process` (a child process) and `kubernetes` (a pod, created through the
 * project's Kubernetes-API test server, whose kubelet runs the pod's command as a local process: so
 * this measures the API round trips, the watch and the TaskManager's start, not a real cluster's
 * scheduling, image pull or container start). `standalone` starts nothing.
 *
 * Each round starts a JobManager with resourcemanager.taskmanagers.min = 1 (so it starts one
 * TaskManager at once), reads the two log lines, and stops it (which stops the TaskManager).
 * Writes bench/results/taskmanager-start.md.
 *
 *   npm run build && node --import tsx bench/taskmanager-start.ts [--runs 5]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { KubeApiServer } from "@riffle/kube-api";
import { CLI, RiffleProcess } from "../e2e/harness/index.js";
import { RESULTS_DIR, machine } from "./report.js";

const runs = Number(process.argv[process.argv.indexOf("--runs") + 1]) || 5;

/** Spawn of `node -e` until its first byte of output, in ms. */
function bareNode(): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", "process.stdout.write('up')"], { stdio: ["ignore", "pipe", "inherit"] });
    child.stdout.once("data", () => resolve(performance.now() - start));
    child.once("error", reject);
  });
}

/** One JobManager with `provider`: request → registered of its one TaskManager, in ms. */
async function provided(provider: string, extra: Record<string, string> = {}): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "riffle-tm-start-"));
  const settings = {
    "rest.port": 0,
    "jobmanager.rpc.port": 0,
    "jobmanager.storage.dir": join(dir, "jobmanager"),
    "resourcemanager.provider": provider,
    "resourcemanager.taskmanagers.min": 1,
    ...extra,
  };
  const jm = new RiffleProcess("jobmanager", ["jobmanager", ...Object.entries(settings).flatMap(([k, v]) => ["--set", `${k}=${v}`])]);
  try {
    const requested = await jm.waitForLog((l) => String(l.msg).startsWith("starting TaskManager"), 30_000);
    const registered = await jm.waitForLog((l) => l.msg === "TaskManager registered" && l.taskmanagerId === requested.taskmanagerId, 30_000);
    return Number(registered.time) - Number(requested.time);
  } finally {
    await jm.stop(30_000);
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const bare: number[] = [];
  const processes: number[] = [];
  const pods: number[] = [];
  const kubeDir = mkdtempSync(join(tmpdir(), "riffle-tm-start-kube-"));
  const api = await KubeApiServer.start({ dataDir: kubeDir, token: "bench" });
  const kubernetes = {
    "resourcemanager.kubernetes.kubeconfig": api.writeKubeconfig(join(kubeDir, "kubeconfig")),
    "resourcemanager.kubernetes.image": "riffle:bench",
    "resourcemanager.kubernetes.command": `${process.execPath} ${CLI}`,
  };
  try {
    for (let i = 0; i < runs; i++) {
      bare.push(await bareNode());
      processes.push(await provided("process"));
      pods.push(await provided("kubernetes", kubernetes));
    }
  } finally {
    await api.close(true);
    rmSync(kubeDir, { recursive: true, force: true });
  }
  const row = (what: string, xs: number[]) =>
    `| ${what} | ${Math.round(median(xs))} ms | ${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))} ms | ${xs.length} |`;
  const m = machine();
  const lines = [
    "# TaskManager start time per provider",
    "",
    `${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.date}; load average ${loadavg()[0]!.toFixed(1)} at the end (other builds and tests ran beside it). \`node --import tsx bench/taskmanager-start.ts --runs ${runs}\`, rounds alternating. A TaskManager's own start (modules, one worker thread per slot, gRPC and metrics servers) is most of it. The kubernetes row runs against the project's Kubernetes-API test server (testing/kube-api): API calls over TLS, the pod's watch events and the TaskManager's start as a local process; a real cluster adds scheduling, the image pull and the container's start.`,
    "",
    "| start | median | range | runs |",
    "|---|---|---|---|",
    row("bare `node -e` (spawn → first output)", bare),
    row("`process` provider (request → registered)", processes),
    row("`kubernetes` provider, test API server (request → registered)", pods),
    "",
  ];
  writeFileSync(join(RESULTS_DIR, "taskmanager-start.md"), lines.join("\n"));
  console.log(lines.join("\n"));
}

await main();
