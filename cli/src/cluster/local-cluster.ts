import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { RiffleError, freePort, loadConfig, parseSetFlags, taskManagerArgs, toRiffleError, type RiffleConfig } from "@riffle/shared";
import { InterruptedError } from "../errors.js";
import { connectHost } from "../options.js";
import { RestClient, restAuthOf } from "../rest-client.js";
import { ClusterProcess, type ExitStatus, type LogRecord, type OutputMode } from "./process.js";

/** Options of {@link LocalCluster.start}. */
export interface LocalClusterOptions {
  /** TaskManager processes to start. Default: `cluster.taskmanagers` of the configuration (2). */
  taskmanagers?: number;
  /** JobManager processes to start; more than one needs `ha`. Default: `cluster.jobmanagers` (1). */
  jobmanagers?: number;
  /**
   * High availability on a local etcd (Debian's etcd-server, `RIFFLE_ETCD_BINARY` to use another):
   * one etcd member on free ports with its data in `<dir>/etcd`, started first and stopped last;
   * the JobManagers campaign in it and the TaskManagers are given every JobManager's address.
   */
  ha?: boolean;
  /**
   * "embedded" (default): the processes belong to this one — their output passes through it (log
   * records to log files, everything else to `stdout`) and they shut down if it dies.
   * "background": detached processes that outlive this one and write only to their log files
   * (`riffle cluster start`); call {@link LocalCluster.release} to let this process exit.
   */
  mode?: "embedded" | "background";
  /** Directory for `log/` and, unless `storageDir` is given, the JobManager's storage. Default: a new temporary directory. */
  dir?: string;
  /** Remove `dir` in {@link LocalCluster.stop}. Default: true when `dir` was created here. */
  removeDir?: boolean;
  /** JobManager storage directory. Default: `<dir>/jobmanager` in embedded mode, `jobmanager.storage.dir` in background mode. */
  storageDir?: string;
  /** Give the JobManager free ports (REST and gRPC). Default: true in embedded mode; false uses `rest.port` and `jobmanager.rpc.port`. */
  freePorts?: boolean;
  /** Configuration file every process reads (`--config`). */
  configFile?: string;
  /** `key=value` settings passed to every process (`--set`), before the cluster's own. */
  settings?: readonly string[];
  /** Environment of the processes (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Working directory of the processes (default process.cwd()). */
  cwd?: string;
  /** Deadline for the whole start, in ms (default 60 s). */
  startTimeoutMs?: number;
  /** How long each process may take to shut down after SIGTERM before it is killed, in ms (default 15 s). */
  stopTimeoutMs?: number;
  /** Embedded mode: where the processes' non-log output goes (default process.stdout / process.stderr). */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Aborting stops the processes started so far and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called once a process is spawned, and again once its ports are known (e.g. to record it). */
  onProcess?: (process: LocalClusterProcess) => void;
  /** The CLI entry point the processes run (default: this package's dist/main.js). */
  entry?: string;
}

/** One process of a local cluster. */
export interface LocalClusterProcess {
  name: string;
  role: "jobmanager" | "taskmanager" | "etcd";
  pid: number;
  /** What the process runs when it is not the CLI (etcd's binary): how `cluster stop` recognises it. */
  command?: string;
  logFile: string;
  restPort?: number;
  rpcPort?: number;
  metricsPort?: number;
}

/** The CLI entry point: `dist/main.js` of this package, whether this module runs from `src/` or `dist/`. */
export const CLI_ENTRY = fileURLToPath(new URL("../../dist/main.js", import.meta.url));

/**
 * A JobManager and TaskManagers in child processes on this machine: the embedded cluster of
 * `riffle run` and the background cluster of `riffle cluster start`.
 *
 * ```ts
 * const cluster = await LocalCluster.start({ taskmanagers: 2 });
 * try {
 *   const overview = await new RestClient(cluster.restUrl).overview();
 * } finally {
 *   await cluster.stop();
 * }
 * ```
 *
 * Start order: the JobManager (on free ports unless told otherwise), read its ports from its
 * "JobManager started" log record, then the TaskManagers (free ports, pointed at the JobManager's
 * gRPC address), each awaited until it logs "TaskManager registered", and finally until the REST
 * overview counts them all. If anything fails or the deadline passes, every process started so far is
 * stopped and the error names the process and its last log lines.
 */
export class LocalCluster {
  /** The JobManager's REST base URL, e.g. `http://127.0.0.1:40123`. */
  readonly restUrl: string;
  /** The JobManager's gRPC address `host:port`. */
  readonly rpcAddress: string;
  readonly dir: string;
  readonly logDir: string;
  /**
   * Rejects when a process exits while the cluster is not being stopped; never resolves. Race a
   * job's completion against it so a crashed process fails the run instead of hanging it.
   */
  readonly failure: Promise<never>;
  private readonly procs: ClusterProcess[];
  private readonly info: LocalClusterProcess[];
  private readonly stopTimeoutMs: number;
  private removeDir: boolean;
  private stopping: Promise<void> | undefined;

  private constructor(init: {
    restUrl: string;
    rpcAddress: string;
    dir: string;
    logDir: string;
    procs: ClusterProcess[];
    info: LocalClusterProcess[];
    stopTimeoutMs: number;
    removeDir: boolean;
  }) {
    this.restUrl = init.restUrl;
    this.rpcAddress = init.rpcAddress;
    this.dir = init.dir;
    this.logDir = init.logDir;
    this.procs = init.procs;
    this.info = init.info;
    this.stopTimeoutMs = init.stopTimeoutMs;
    this.removeDir = init.removeDir;
    this.failure = new Promise<never>((_, reject) => {
      this.procs.forEach((p, i) => {
        void p.exited.then(() => {
          if (!this.stopping) reject(p.exitError("unexpectedly", this.info[i]?.role === "taskmanager" ? "TASKMANAGER_LOST" : "INTERNAL"));
        });
      });
    });
    this.failure.catch(() => undefined);
  }

  /** The processes, JobManager first. */
  get processes(): readonly LocalClusterProcess[] {
    return this.info;
  }

  static async start(options: LocalClusterOptions = {}): Promise<LocalCluster> {
    const mode = options.mode ?? "embedded";
    const embedded = mode === "embedded";
    const settings = [...(options.settings ?? [])];
    // The processes load the same configuration (same file, environment and settings); read it here
    // for the addresses to connect to and the defaults.
    const config: RiffleConfig = loadConfig({ file: options.configFile, env: options.env ?? process.env, overrides: parseSetFlags(settings) });
    const taskmanagers = options.taskmanagers ?? config["cluster.taskmanagers"];
    if (!Number.isInteger(taskmanagers) || taskmanagers < 1)
      throw new RiffleError("CONFIG_INVALID", `a cluster needs at least one TaskManager, got ${taskmanagers}`);
    const jobmanagers = options.jobmanagers ?? config["cluster.jobmanagers"];
    const ha = options.ha ?? false;
    if (!Number.isInteger(jobmanagers) || jobmanagers < 1)
      throw new RiffleError("CONFIG_INVALID", `a cluster needs at least one JobManager, got ${jobmanagers}`);
    if (jobmanagers > 1 && !ha) {
      throw new RiffleError("CONFIG_INVALID", `${jobmanagers} JobManagers need high availability: add --ha (a local etcd is started for them)`);
    }
    if (ha && !existsSync(ETCD_BINARY)) {
      throw new RiffleError(
        "CONFIG_INVALID",
        `--ha needs etcd at ${ETCD_BINARY}: install Debian's etcd-server (apt-get install -y etcd-server etcd-client), or point RIFFLE_ETCD_BINARY at one`,
      );
    }

    const createdDir = options.dir === undefined;
    const dir = resolve(options.dir ?? mkdtempSync(join(tmpdir(), "riffle-")));
    const logDir = join(dir, "log");
    mkdirSync(logDir, { recursive: true });
    const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
    const stopTimeoutMs = options.stopTimeoutMs ?? 15_000;
    const outputMode: OutputMode = embedded ? "pipe" : "file";
    const entry = options.entry ?? CLI_ENTRY;
    const common = [...(options.configFile !== undefined ? ["--config", options.configFile] : []), ...settings.flatMap((s) => ["--set", s])];

    const procs: ClusterProcess[] = [];
    const info: LocalClusterProcess[] = [];
    /** Starts `node <args>`: the CLI's `jobmanager` or `taskmanager` command. */
    const spawnProcess = (name: string, role: LocalClusterProcess["role"], args: string[]) => {
      const p = ClusterProcess.spawn({
        name,
        command: process.execPath,
        args,
        mode: outputMode,
        logFile: join(logDir, `${name}.log`),
        cwd: options.cwd,
        env: options.env,
        stdout: options.stdout,
        stderr: options.stderr,
      });
      procs.push(p);
      const entryInfo: LocalClusterProcess = { name, role, pid: p.pid ?? -1, logFile: p.logFile };
      info.push(entryInfo);
      if (p.pid !== undefined) options.onProcess?.(entryInfo);
      return { p, entryInfo };
    };
    // Ends whatever still waits (the overview polling) once the start has failed.
    const startFailed = new AbortController();
    const fail = async (err: unknown): Promise<never> => {
      startFailed.abort(err);
      await Promise.allSettled(procs.map((p) => p.stop(stopTimeoutMs)));
      if (err instanceof InterruptedError) {
        if (createdDir) rmSync(dir, { recursive: true, force: true });
        throw err;
      }
      // Keep the logs: they explain the failure.
      const e = toRiffleError(err);
      throw new RiffleError(e.code, `${e.message}\nThe cluster's logs are in ${logDir}`, { cause: err });
    };

    const abortable = <T>(promise: Promise<T>): Promise<T> => {
      const signal = options.signal;
      if (!signal) return promise;
      if (signal.aborted) return Promise.reject(signal.reason);
      return new Promise<T>((resolvePromise, reject) => {
        const onAbort = () => reject(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
        promise.then(
          (v) => {
            signal.removeEventListener("abort", onAbort);
            resolvePromise(v);
          },
          (e) => {
            signal.removeEventListener("abort", onAbort);
            reject(e);
          },
        );
      });
    };

    try {
      const haSettings: string[] = [];
      if (ha) {
        // etcd first: the JobManagers campaign in it. Its log is zap JSON on stderr, into its log file.
        const clientPort = await freePort();
        const peerPort = await freePort();
        const client = `http://127.0.0.1:${clientPort}`;
        const peer = `http://127.0.0.1:${peerPort}`;
        const etcd = ClusterProcess.spawn({
          name: "etcd",
          command: ETCD_BINARY,
          args: [
            "--name=riffle",
            `--data-dir=${join(dir, "etcd")}`,
            `--listen-client-urls=${client}`,
            `--advertise-client-urls=${client}`,
            `--listen-peer-urls=${peer}`,
            `--initial-advertise-peer-urls=${peer}`,
            `--initial-cluster=riffle=${peer}`,
          ],
          mode: outputMode,
          logFile: join(logDir, "etcd.log"),
          cwd: options.cwd,
          env: options.env,
          stdout: options.stdout,
          stderr: options.stderr,
        });
        procs.push(etcd);
        const etcdInfo: LocalClusterProcess = {
          name: "etcd",
          role: "etcd",
          pid: etcd.pid ?? -1,
          logFile: etcd.logFile,
          command: ETCD_BINARY,
          rpcPort: clientPort,
        };
        info.push(etcdInfo);
        if (etcd.pid !== undefined) options.onProcess?.(etcdInfo);
        await abortable(waitForEtcd(client, etcd, deadline));
        haSettings.push(
          "high-availability.type=etcd",
          `high-availability.etcd.endpoints=${client}`,
          `high-availability.storageDir=${join(dir, "ha")}`,
          // Every JobManager must read what the others checkpointed: one directory for all.
          `state.checkpoints.dir=${resolve(options.cwd ?? ".", config["state.checkpoints.dir"])}`,
          `state.savepoints.dir=${resolve(options.cwd ?? ".", config["state.savepoints.dir"])}`,
        );
      }
      const free = options.freePorts ?? embedded;
      // On fixed ports every JobManager knows the others' addresses: given as taskmanager.jobmanager.address,
      // the TaskManagers their resource manager's provider starts follow whichever leads (none without a provider).
      if (!free && jobmanagers > 1 && config["jobmanager.rpc.port"] > 0 && !config["taskmanager.jobmanager.address"]) {
        const all = Array.from({ length: jobmanagers }, (_, i) => `${connectHost(config["jobmanager.rpc.address"])}:${config["jobmanager.rpc.port"] + i}`);
        haSettings.push(`taskmanager.jobmanager.address=${all.join(",")}`);
      }
      const started = [];
      for (let i = 0; i < jobmanagers; i++) {
        const name = jobmanagers === 1 ? "jobmanager" : `jobmanager-${i + 1}`;
        const storage =
          options.storageDir !== undefined
            ? jobmanagers === 1
              ? options.storageDir
              : join(options.storageDir, name)
            : embedded || jobmanagers > 1
              ? join(dir, name)
              : undefined;
        const jmSettings = [
          ...(free
            ? ["rest.port=0", "jobmanager.rpc.port=0"]
            : jobmanagers > 1
              ? [`rest.port=${config["rest.port"] + i}`, `jobmanager.rpc.port=${config["jobmanager.rpc.port"] + i}`]
              : []),
          ...(storage !== undefined ? [`jobmanager.storage.dir=${storage}`] : []),
          ...haSettings,
        ];
        started.push(spawnProcess(name, "jobmanager", [entry, "jobmanager", ...common, ...jmSettings.flatMap((s) => ["--set", s])]));
      }
      const jmAddresses = await abortable(
        Promise.all(
          started.map(async (jm) => {
            const record = await jm.p.waitForLog("JobManager started", deadline);
            const restPort = portOf(record, "restPort", jm.p.name);
            const rpcPort = portOf(record, "rpcPort", jm.p.name);
            Object.assign(jm.entryInfo, { restPort, rpcPort });
            options.onProcess?.(jm.entryInfo);
            return {
              restUrl: `http://${connectHost(config["rest.bind-address"])}:${restPort}`,
              rpcAddress: `${connectHost(config["jobmanager.rpc.address"])}:${rpcPort}`,
            };
          }),
        ),
      );
      // With several JobManagers, clients and TaskManagers are given them all and follow the leader.
      const restUrl = jmAddresses.map((a) => a.restUrl).join(",");
      const rpcAddress = jmAddresses.map((a) => a.rpcAddress).join(",");
      const tms = Array.from({ length: taskmanagers }, (_, i) => {
        // The command line the JobManager's process provider starts TaskManagers with, too.
        const tm = spawnProcess(`taskmanager-${i + 1}`, "taskmanager", taskManagerArgs({ entry, jobmanagerAddress: rpcAddress, flags: common }));
        const ready = tm.p.waitForLog("TaskManager started", deadline).then((record) => {
          Object.assign(tm.entryInfo, { rpcPort: optionalPort(record, "rpcPort"), metricsPort: optionalPort(record, "metricsPort") });
          options.onProcess?.(tm.entryInfo);
        });
        const registered = tm.p.waitForLog("TaskManager registered", deadline);
        return Promise.all([ready, registered]);
      });
      // TaskManagers would only notice a dead JobManager at their registration timeout: watch it here.
      const jobManagerDied = Promise.race(started.map((jm) => jm.p.exited.then(() => jm))).then((jm): never => {
        throw jm.p.exitError("while the TaskManagers started");
      });
      jobManagerDied.catch(() => undefined);
      await abortable(Promise.race([Promise.all(tms), jobManagerDied]));
      await abortable(
        Promise.race([
          waitForTaskManagers(
            new RestClient(restUrl, restAuthOf(config)),
            taskmanagers,
            deadline,
            options.signal ? AbortSignal.any([options.signal, startFailed.signal]) : startFailed.signal,
          ),
          jobManagerDied,
        ]),
      );

      return new LocalCluster({
        restUrl,
        rpcAddress,
        dir,
        logDir,
        procs,
        info,
        stopTimeoutMs,
        removeDir: options.removeDir ?? createdDir,
      });
    } catch (err) {
      return fail(err);
    }
  }

  /**
   * Stops every process (TaskManagers first, then the JobManager): SIGTERM, then SIGKILL after the
   * stop timeout. Removes the directory if it was created here, unless {@link keepDir} was called.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const p of this.procs) p.discardOutput();
      // TaskManagers first, then the JobManagers, then etcd (the JobManagers resign in it).
      const of = (role: LocalClusterProcess["role"]) => this.procs.filter((_, i) => this.info[i]?.role === role);
      for (const role of ["taskmanager", "jobmanager", "etcd"] as const) {
        await Promise.allSettled(of(role).map((p) => p.stop(this.stopTimeoutMs)));
      }
      if (this.removeDir) rmSync(this.dir, { recursive: true, force: true });
    })();
    return this.stopping;
  }

  /** Keep the directory (and its logs) when the cluster stops, e.g. because a run failed. */
  keepDir(): void {
    this.removeDir = false;
  }

  /** Background mode: lets this process exit while the cluster keeps running. */
  release(): void {
    for (const p of this.procs) p.release();
  }

  /** Exit statuses of processes that have exited. */
  exitStatuses(): { name: string; status: ExitStatus }[] {
    return this.procs.flatMap((p) => (p.exitStatus ? [{ name: p.name, status: p.exitStatus }] : []));
  }
}

/** Polls the REST overview until it counts `count` TaskManagers, or the deadline passes. */
async function waitForTaskManagers(client: RestClient, count: number, deadline: number, signal: AbortSignal): Promise<void> {
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const overview = await client.overview({ timeoutMs: Math.max(1000, Math.min(5000, deadline - Date.now())), signal });
      if (overview.taskmanagers >= count) return;
      last = `${overview.taskmanagers} of ${count} TaskManagers registered`;
    } catch (err) {
      if (signal.aborted) throw err;
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, Math.min(100, Math.max(0, deadline - Date.now()))));
  }
  throw new RiffleError("TIMEOUT", `the JobManager at ${client.baseUrl} did not report ${count} TaskManagers in time (${String(last)})`);
}

function portOf(record: LogRecord, field: string, name: string): number {
  const port = optionalPort(record, field);
  if (port === undefined) throw new RiffleError("INTERNAL", `${name} logged "${String(record.msg)}" without a valid ${field}`);
  return port;
}

function optionalPort(record: LogRecord, field: string): number | undefined {
  const value = record[field];
  return typeof value === "number" && Number.isInteger(value) && value > 0 && value <= 65535 ? value : undefined;
}

/** etcd's binary: Debian's etcd-server, or RIFFLE_ETCD_BINARY. */
const ETCD_BINARY = process.env.RIFFLE_ETCD_BINARY ?? "/usr/bin/etcd";

/** Polls etcd's /health until it answers healthy; rejects when it exits first or the deadline passes. */
async function waitForEtcd(url: string, etcd: ClusterProcess, deadline: number): Promise<void> {
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (etcd.exitStatus) throw etcd.exitError("while starting");
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
      const body = (await res.json()) as { health?: string };
      if (body.health === "true") return;
      last = JSON.stringify(body);
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    // etcd answers its health endpoint once it serves: asking is the only signal from outside.
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new RiffleError("TIMEOUT", `etcd at ${url} did not become healthy in time (${last})`);
}
