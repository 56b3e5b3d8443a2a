/**
 * TaskManager start time per provider: from the JobManager's request ("starting TaskManager <id>" in
 * its log) to the TaskManager's registration ("TaskManager registered", the same log, the same
 * clock), beside a bare `node` process started in the same run (spawn → its first line of output),
 * and, when a Docker daemon answers (DOCKER_HOST, else /var/run/docker.sock), the `docker` provider
 * beside a bare `docker run` of `node -e` from the same image, and the `kubernetes` provider: a pod
 * created through the project's Kubernetes-API test server, whose kubelet runs the pod's command as
 * a local process (so this measures the API round trips, the watch and the TaskManager's start, not a
 * real cluster's scheduling, image pull or container start). `standalone` starts nothing.
 *
 * Each round starts a JobManager with resourcemanager.taskmanagers.min = 1 (so it starts one
 * TaskManager at once), reads the two log lines, and stops it (which stops the TaskManager). The
 * docker rounds build Riffle's image first (deploy/docker/build-image.sh --local-base, tag
 * riffle:bench; no registry). Writes bench/results/taskmanager-start.md.
 *
 *   npm run build && node --import tsx bench/taskmanager-start.ts [--runs 5] [--no-docker]
 */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import Docker from "dockerode";
import { KubeApiServer } from "@riffle/kube-api";
import { CLI, REPO_ROOT, RiffleProcess } from "../e2e/harness/index.js";
import { RESULTS_DIR, machine } from "./report.js";

const runs = Number(process.argv[process.argv.indexOf("--runs") + 1]) || 5;
const IMAGE = "riffle:bench";

/** Spawn of `node -e` until its first byte of output, in ms. */
function bareNode(): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", "process.stdout.write('up')"], { stdio: ["ignore", "pipe", "inherit"] });
    child.stdout.once("data", () => resolve(performance.now() - start));
    child.once("error", reject);
  });
}

/** `docker run` of `node -e` from Riffle's image until its first byte of output, in ms. */
function bareContainer(): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const args = ["run", "--rm", "--pull", "never", "--network", "host", "--entrypoint", "node", IMAGE, "-e", "process.stdout.write('up')"];
    const child = spawn("docker", args, { stdio: ["ignore", "pipe", "inherit"] });
    child.stdout.once("data", () => resolve(performance.now() - start));
    child.once("error", reject);
  });
}

/** One JobManager with the given provider: request → registered of its one TaskManager, in ms. */
async function provider(settings: Record<string, string | number>): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "riffle-tm-start-"));
  const all = {
    "rest.port": 0,
    "jobmanager.rpc.port": 0,
    "jobmanager.storage.dir": join(dir, "jobmanager"),
    "resourcemanager.taskmanagers.min": 1,
    ...settings,
  };
  const jm = new RiffleProcess("jobmanager", ["jobmanager", ...Object.entries(all).flatMap(([k, v]) => ["--set", `${k}=${v}`])]);
  try {
    const requested = await jm.waitForLog((l) => String(l.msg).startsWith("starting TaskManager"), 30_000);
    const registered = await jm.waitForLog((l) => l.msg === "TaskManager registered" && l.taskmanagerId === requested.taskmanagerId, 60_000);
    return Number(registered.time) - Number(requested.time);
  } finally {
    await jm.stop(30_000);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Why the docker rounds cannot run, or undefined when a daemon answers and the image is built. */
async function prepareDocker(): Promise<string | undefined> {
  if (process.argv.includes("--no-docker")) return "--no-docker";
  try {
    await new Docker().ping();
  } catch (err) {
    return `no Docker daemon answers at ${process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock"} (${(err as Error).message})`;
  }
  await promisify(execFile)(join(REPO_ROOT, "deploy/docker/build-image.sh"), ["--local-base", "--tag", IMAGE], { maxBuffer: 16 * 1024 * 1024 });
  return undefined;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const noDocker = await prepareDocker();
  const bare: number[] = [];
  const processed: number[] = [];
  const container: number[] = [];
  const docker: number[] = [];
  const pods: number[] = [];
  const kubeDir = mkdtempSync(join(tmpdir(), "riffle-tm-start-kube-"));
  const api = await KubeApiServer.start({ dataDir: kubeDir, token: "bench" });
  const kubernetes = {
    "resourcemanager.provider": "kubernetes",
    "resourcemanager.kubernetes.kubeconfig": api.writeKubeconfig(join(kubeDir, "kubeconfig")),
    "resourcemanager.kubernetes.image": "riffle:bench",
    // The test kubelet ignores images: it runs the command, the riffle CLI of this checkout.
    "resourcemanager.kubernetes.command": `${process.execPath} ${CLI}`,
  };
  for (let i = 0; i < runs; i++) {
    bare.push(await bareNode());
    processed.push(await provider({ "resourcemanager.provider": "process" }));
    pods.push(await provider(kubernetes));
    if (noDocker) continue;
    container.push(await bareContainer());
    docker.push(
      await provider({
        "resourcemanager.provider": "docker",
        "resourcemanager.docker.image": IMAGE,
        "high-availability.cluster-id": `bench-${process.pid}-${i}`,
      }),
    );
  }
  await api.close(true);
  rmSync(kubeDir, { recursive: true, force: true });
  const row = (what: string, xs: number[]) =>
    `| ${what} | ${Math.round(median(xs))} ms | ${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))} ms | ${xs.length} |`;
  const m = machine();
  const lines = [
    "# TaskManager start time per provider",
    "",
    `${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.date}; load average ${loadavg()[0]!.toFixed(1)} at the end. \`node --import tsx bench/taskmanager-start.ts --runs ${runs}\`, rounds alternating. A TaskManager's own start (modules, one worker thread per slot, gRPC and metrics servers) is most of it. The kubernetes row runs against the project's Kubernetes-API test server (testing/kube-api): API calls over TLS, the pod's watch events and the TaskManager's start as a local process; a real cluster adds scheduling, the image pull and the container's start.`,
    "",
    "| start | median | range | runs |",
    "|---|---|---|---|",
    row("bare `node -e` (spawn → first output)", bare),
    row("`process` provider (request → registered)", processed),
    row("`kubernetes` provider, Kubernetes-API test server (request → registered)", pods),
    ...(noDocker
      ? []
      : [row("bare `docker run` of `node -e` from Riffle's image (→ first output)", container), row("`docker` provider (request → registered)", docker)]),
    "",
    ...(noDocker ? [`The docker provider was not measured: ${noDocker}.`, ""] : []),
  ];
  writeFileSync(join(RESULTS_DIR, "taskmanager-start.md"), lines.join("\n"));
  console.log(lines.join("\n"));
}

await main();
