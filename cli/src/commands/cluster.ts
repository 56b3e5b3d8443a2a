import { resolve } from "node:path";
import { RiffleError } from "@riffle/shared";
import {
  CLI_ENTRY,
  CLUSTER_STATE_FILE,
  LocalCluster,
  isRiffleProcess,
  readClusterState,
  removeClusterState,
  stopPid,
  writeClusterState,
  type ClusterState,
  type LocalClusterProcess,
} from "../cluster/index.js";
import { Interrupts } from "../interrupts.js";
import { resolveConfig, type GlobalOptions } from "../options.js";
import { write } from "../output.js";

/** Where `riffle cluster start` keeps its state and logs (relative to the working directory). */
const CLUSTER_DIR = ".riffle";
/** How long each process may take to shut down after SIGTERM before `cluster stop` kills it. */
const STOP_TIMEOUT_MS = 30_000;

/**
 * `riffle cluster start`: a JobManager (on the configured ports) and n TaskManagers as background
 * processes that outlive the command. Logs go to `.riffle/log/<name>.log`, pids and addresses to
 * `.riffle/cluster.json`. Returns once the JobManager's overview counts every TaskManager.
 */
export async function clusterStartCommand(globals: GlobalOptions, options: { taskmanagers?: number; jobmanagers?: number; ha?: boolean }): Promise<number> {
  const config = resolveConfig(globals);
  const existing = readClusterState();
  if (existing) {
    const live = existing.processes.filter((p) => isRiffleProcess(p.pid, p.command ?? existing.entry));
    if (live.length > 0) {
      throw new RiffleError(
        "CLUSTER_ALREADY_RUNNING",
        `a cluster is already running (${live.map((p) => `${p.name} pid ${p.pid}`).join(", ")}${existing.restUrl ? `, REST ${existing.restUrl}` : ""}, recorded in ${CLUSTER_STATE_FILE}). Stop it with \`riffle cluster stop\`.`,
      );
    }
    removeClusterState();
  }

  const taskmanagers = options.taskmanagers ?? config["cluster.taskmanagers"];
  const jobmanagers = options.jobmanagers ?? config["cluster.jobmanagers"];
  const ha = options.ha ?? false;
  const state: ClusterState = {
    version: 1,
    startedAt: new Date().toISOString(),
    entry: CLI_ENTRY,
    logDir: resolve(CLUSTER_DIR, "log"),
    processes: [],
  };
  const record = (p: LocalClusterProcess) => {
    const i = state.processes.findIndex((q) => q.name === p.name);
    if (i >= 0) state.processes[i] = { ...p };
    else state.processes.push({ ...p });
    writeClusterState(state);
  };

  await write(
    process.stderr,
    `Starting a cluster: ${ha ? "a local etcd, " : ""}${jobmanagers} JobManager${jobmanagers === 1 ? "" : "s"}, ${taskmanagers} TaskManager${taskmanagers === 1 ? "" : "s"}...\n`,
  );
  const interrupts = new Interrupts();
  let cluster: LocalCluster;
  try {
    cluster = await LocalCluster.start({
      mode: "background",
      dir: CLUSTER_DIR,
      removeDir: false,
      freePorts: false,
      taskmanagers,
      jobmanagers,
      ha,
      ...(globals.config !== undefined ? { configFile: globals.config } : {}),
      settings: globals.set,
      signal: interrupts.signal,
      onProcess: record,
    });
  } catch (err) {
    removeClusterState();
    throw err;
  } finally {
    interrupts.dispose();
  }
  state.restUrl = cluster.restUrl;
  state.rpcAddress = cluster.rpcAddress;
  writeClusterState(state);
  cluster.release();

  const rest = cluster.restUrl
    .split(",")
    .map((u) => new URL(u).host)
    .join(",");
  const etcd = cluster.processes.find((p) => p.role === "etcd");
  const lines = [
    jobmanagers === 1
      ? `Cluster started: JobManager REST at ${cluster.restUrl} (gRPC ${cluster.rpcAddress}), ${taskmanagers} TaskManager${taskmanagers === 1 ? "" : "s"}${ha ? "" : "."}`
      : `Cluster started: ${jobmanagers} JobManagers, REST at ${cluster.restUrl} (gRPC ${cluster.rpcAddress}), ${taskmanagers} TaskManager${taskmanagers === 1 ? "" : "s"}`,
    ...(etcd ? [`High availability on the local etcd at http://127.0.0.1:${etcd.rpcPort} (pid ${etcd.pid}); data in ${CLUSTER_DIR}/etcd/.`] : []),
    `Logs are in ${CLUSTER_DIR}/log/, pids in ${CLUSTER_STATE_FILE}.`,
    "",
    `Submit a job:  riffle run -m ${rest} path/to/job.ts [job arguments]`,
    `List jobs:     riffle list -m ${rest}`,
    "Stop it:       riffle cluster stop",
  ];
  await write(process.stdout, `${lines.join("\n")}\n`);
  return 0;
}

/** `riffle cluster stop`: SIGTERM to every recorded process (TaskManagers first, etcd last), SIGKILL after 30 s. */
export async function clusterStopCommand(_globals: GlobalOptions): Promise<number> {
  const state = readClusterState();
  if (!state) {
    await write(process.stderr, `No cluster is running (no ${CLUSTER_STATE_FILE}).\n`);
    return 0;
  }
  // TaskManagers first, then the JobManagers, then etcd (the leader resigns in it on its way out).
  const tms = state.processes.filter((p) => p.role === "taskmanager");
  const jms = state.processes.filter((p) => p.role === "jobmanager");
  const etcd = state.processes.filter((p) => p.role === "etcd");
  for (const group of [tms, jms, etcd]) {
    const outcomes = await Promise.all(group.map(async (p) => ({ p, outcome: await stopPid(p.pid, p.command ?? state.entry, STOP_TIMEOUT_MS) })));
    for (const { p, outcome } of outcomes) {
      const what =
        outcome === "stopped" ? "stopped" : outcome === "killed" ? `killed (no exit within ${STOP_TIMEOUT_MS / 1000} s of SIGTERM)` : "was not running";
      await write(process.stdout, `${p.name} (pid ${p.pid}) ${what}\n`);
    }
  }
  removeClusterState();
  await write(process.stdout, "Cluster stopped.\n");
  return 0;
}
