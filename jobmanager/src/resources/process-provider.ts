import type { ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { CONFIG_OPTIONS, type Logger, RiffleError, type RiffleConfig, isRiffleProcess, spawnIntoLogFile, taskManagerArgs } from "@riffle/shared";
import type { ProvidedTaskManager, ProviderExit, TaskManagerProvider } from "./provider.js";

export interface ProcessProviderOptions {
  config: RiffleConfig;
  /** The `riffle` CLI script the TaskManagers run (`node <entry> taskmanager`). */
  entry: string;
  /** The TaskManagers' log files and records (`<id>.log`, `<id>.json`). */
  dir: string;
  /** Where the TaskManagers find the JobManager: host:port of every JobManager of the cluster, comma-separated (`taskmanager.jobmanager.address`). */
  jobmanagerAddress: string;
  logger: Logger;
  /** How long a TaskManager may take to exit after SIGTERM before it is killed. */
  stopTimeoutMs?: number;
}

/** What is kept of each TaskManager on disk, so that the next JobManager finds it. */
interface ProcessRecord {
  id: string;
  pid: number;
  entry: string;
  startedAt: number;
  /** The machine it runs on (absent in records of earlier versions: this one). */
  host?: string;
}

interface Running {
  record: ProcessRecord;
  /** Our child, when this JobManager started it; adopted ones are watched by polling their pid. */
  child: ChildProcess | undefined;
  stopping: boolean;
  exited: Promise<void>;
  markExited: () => void;
}

/** How often adopted TaskManagers (not our children: no exit event) are checked for life. */
const POLL_MS = 200;

/** Settings a TaskManager gets its own value for, whatever the JobManager's configuration says. */
export const OWN_KEYS = new Set(["taskmanager.id", "taskmanager.jobmanager.address", "taskmanager.rpc.port", "taskmanager.metrics.port"]);

/**
 * `process`: TaskManagers as processes of this machine, `node <riffle CLI> taskmanager`, detached so
 * that they outlive a JobManager that crashes: each is recorded in `<dir>/<id>.json`, and the next
 * JobManager adopts those still alive (they register again with it on their own). They get the
 * JobManager's settings that differ from the defaults (but their own ports and id), and its
 * environment, so RIFFLE_* variables and the configuration file's values reach them.
 */
export class ProcessProvider implements TaskManagerProvider {
  readonly name = "process";
  private readonly running = new Map<string, Running>();
  private listener: ((exit: ProviderExit) => void) | undefined;
  private readonly settings: string[];

  constructor(private readonly options: ProcessProviderOptions) {
    mkdirSync(options.dir, { recursive: true });
    this.settings = inheritedSettings(options.config);
  }

  async start(id: string): Promise<ProvidedTaskManager> {
    const { entry, dir } = this.options;
    const args = taskManagerArgs({ entry, jobmanagerAddress: this.options.jobmanagerAddress, flags: this.settings, id });
    let child: ChildProcess;
    try {
      child = spawnIntoLogFile(process.execPath, args, join(dir, `${id}.log`));
    } catch (err) {
      throw new RiffleError("PROVIDER_FAILED", `cannot open the log file of TaskManager ${id} in ${dir}: ${(err as Error).message}`, { cause: err });
    }
    const spawned = await new Promise<number>((resolve, reject) => {
      child.once("spawn", () => resolve(child.pid!));
      child.once("error", (err) =>
        reject(new RiffleError("PROVIDER_FAILED", `cannot start TaskManager ${id} (${process.execPath} ${entry}): ${err.message}`, { cause: err })),
      );
    });
    child.unref();
    const record: ProcessRecord = { id, pid: spawned, entry, startedAt: Date.now(), host: hostname() };
    writeFileSync(join(dir, `${id}.json`), `${JSON.stringify(record)}\n`);
    const running = this.track(record, child);
    child.once("exit", (code, signal) => this.exited(running, signal ? `was killed by ${signal}` : `exited with code ${code}`));
    this.options.logger.info({ taskmanagerId: id, pid: spawned, log: join(dir, `${id}.log`) }, "started a TaskManager process");
    return describe(record);
  }

  async stop(id: string): Promise<void> {
    const r = this.running.get(id);
    if (!r) return;
    r.stopping = true;
    // An adopted one is not our child: its pid is checked again right before each signal.
    const send = (sig: NodeJS.Signals) => {
      if (r.child || isRiffleProcess(r.record.pid, r.record.entry, identity(r.record))) signal(r.record.pid, sig);
    };
    send("SIGTERM");
    const timeout = this.options.stopTimeoutMs ?? 15_000;
    if (await settlesWithin(r.exited, timeout)) return;
    send("SIGKILL");
    await settlesWithin(r.exited, 5_000);
  }

  async list(): Promise<ProvidedTaskManager[]> {
    const { dir } = this.options;
    for (const name of readdirSync(dir)) {
      if (!name.endsWith(".json")) continue;
      let record: ProcessRecord;
      try {
        record = JSON.parse(readFileSync(join(dir, name), "utf8")) as ProcessRecord;
      } catch {
        continue;
      }
      if (this.running.has(record.id)) continue;
      // With high availability the records are shared: another machine's pids mean nothing here, and
      // its TaskManagers are left to a JobManager on that machine (they register with any leader).
      if (record.host !== undefined && record.host !== hostname()) continue;
      // Its pid, running the riffle CLI, as this TaskManager: after a crash of the machine or a long
      // while, the pid may belong to another process, even another riffle TaskManager (never signalled).
      if (isRiffleProcess(record.pid, record.entry, identity(record))) {
        this.track(record, undefined);
        this.options.logger.info({ taskmanagerId: record.id, pid: record.pid }, "adopted a TaskManager process a previous JobManager started");
      } else {
        rmSync(join(dir, name), { force: true });
      }
    }
    return [...this.running.values()].map((r) => describe(r.record));
  }

  watch(listener: (exit: ProviderExit) => void): void {
    this.listener = listener;
  }

  async close(stopAll: boolean): Promise<void> {
    this.listener = undefined;
    if (stopAll) await Promise.all([...this.running.keys()].map((id) => this.stop(id)));
  }

  private track(record: ProcessRecord, child: ChildProcess | undefined): Running {
    let markExited = () => {};
    const exited = new Promise<void>((resolve) => {
      markExited = resolve;
    });
    const r: Running = { record, child, stopping: false, exited, markExited };
    this.running.set(record.id, r);
    if (!child) {
      // Adopted: not our child, so no exit event; its pid is polled.
      const check = setInterval(() => {
        if (!isRiffleProcess(record.pid, record.entry, identity(record))) {
          clearInterval(check);
          this.exited(r, "is gone (its process ended)");
        }
      }, POLL_MS);
      check.unref();
      void exited.then(() => clearInterval(check));
    }
    return r;
  }

  private exited(r: Running, reason: string): void {
    if (this.running.get(r.record.id) !== r) return;
    this.running.delete(r.record.id);
    rmSync(join(this.options.dir, `${r.record.id}.json`), { force: true });
    r.markExited();
    if (r.stopping) return;
    this.options.logger.warn({ taskmanagerId: r.record.id, pid: r.record.pid }, `TaskManager process ${r.record.id} (pid ${r.record.pid}) ${reason}`);
    this.listener?.({ id: r.record.id, reason });
  }
}

/** `--set key=value` for every setting of the JobManager that differs from its default, but the TaskManager's own. */
export function inheritedSettings(config: RiffleConfig): string[] {
  return inheritedValues(config, OWN_KEYS).flatMap(([key, value]) => ["--set", `${key}=${value}`]);
}

/**
 * The JobManager's settings that differ from their defaults and that a TaskManager it starts should
 * get too: all but `own` (the TaskManager's own values) and the JobManager's alone (resource manager,
 * REST, autoscaler).
 */
export function inheritedValues(config: RiffleConfig, own: ReadonlySet<string>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [key, option] of Object.entries(CONFIG_OPTIONS)) {
    if (!inheritable(key, own)) continue;
    const value = (config as Record<string, unknown>)[key];
    const parsed = option.schema.safeParse(option.default);
    if (parsed.success && JSON.stringify(parsed.data) === JSON.stringify(value)) continue;
    if (value === undefined || (typeof value === "object" && value !== null)) continue;
    out.push([key, String(value)]);
  }
  return out;
}

/**
 * Whether a TaskManager a provider starts gets the JobManager's value of `key`: not its own ones
 * (`own`), nor the JobManager's alone (resource manager, autoscaler, and REST, whose `rest.auth.*`
 * tokens a TaskManager has no use for and must not carry where others can read them).
 */
export function inheritable(key: string, own: ReadonlySet<string>): boolean {
  return !own.has(key) && !key.startsWith("resourcemanager.") && !key.startsWith("rest.") && !key.startsWith("job.autoscaler.");
}

/** What a recorded TaskManager's command line holds besides the CLI script: its id (see taskManagerArgs). */
function identity(record: ProcessRecord): string[] {
  return [`taskmanager.id=${record.id}`];
}

function describe(record: ProcessRecord): ProvidedTaskManager {
  return { id: record.id, startedAt: record.startedAt, where: `pid ${record.pid}` };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone already.
  }
}

/** Whether `promise` settles within `ms`. */
export async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
