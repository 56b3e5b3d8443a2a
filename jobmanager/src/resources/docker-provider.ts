import { CONFIG_OPTIONS, type Logger, RiffleError, type RiffleConfig, envVarName } from "@riffle/shared";
import Docker from "dockerode";
import { OWN_KEYS, inheritable, inheritedSettings, settlesWithin } from "./process-provider.js";
import type { ProvidedTaskManager, ProviderExit, TaskManagerProvider } from "./provider.js";

export interface DockerProviderOptions {
  config: RiffleConfig;
  /** Where the TaskManagers find the JobManager: host:port of every JobManager of the cluster, comma-separated (the containers share the host's network). */
  jobmanagerAddress: string;
  logger: Logger;
  /** Seconds Docker gives a TaskManager to exit after SIGTERM before it kills it. */
  stopTimeoutS?: number;
  /** How long a Docker call (other than wait, and stop beyond its grace period) may take; default 30 s. */
  callTimeoutMs?: number;
}

/** The labels every TaskManager container carries: reconciling finds a cluster's containers by them. */
export const LABELS = {
  component: "riffle.component",
  clusterId: "riffle.cluster-id",
  taskmanagerId: "riffle.taskmanager-id",
  startedAt: "riffle.started-at",
} as const;

interface Running {
  id: string;
  container: Docker.Container;
  name: string;
  startedAt: number;
  stopping: boolean;
  exited: Promise<void>;
  markExited: () => void;
}

/** How long to wait before asking a daemon that did not answer again about a container. */
const RETRY_WAIT_MS = 1_000;
/** How long a Docker call may take by default: a daemon that hangs fails starts instead of freezing them. */
const CALL_TIMEOUT_MS = 30_000;
/** Log lines of a container that ended on its own that go into the JobManager's log. */
const TAIL_LINES = 5;

/**
 * `docker`: TaskManagers as containers of Riffle's image (`deploy/docker/Dockerfile`, whose entry
 * point is the `riffle` CLI) on a Docker daemon, `riffle taskmanager` with the JobManager's settings
 * that differ from the defaults (but their own id and ports) and its RIFFLE_* variables. They share
 * the host's network (NetworkMode host: they reach the JobManager and each other as processes
 * would), run under the configured memory and CPU limits, and see the configured bind mounts (the
 * checkpoint directory, sinks' output). The image is never pulled: a missing image is a clear error.
 *
 * Each container is labelled with the cluster id and its TaskManager id, so the next JobManager finds
 * them: it adopts the running ones (they register again with it on their own) and removes the ended
 * ones. An ended container is noticed through Docker's wait call, its last log lines logged, and it
 * is removed.
 */
export class DockerProvider implements TaskManagerProvider {
  readonly name = "docker";
  private readonly docker: Docker;
  /** The daemon's address, for messages. */
  private readonly daemon: string;
  private readonly running = new Map<string, Running>();
  /** Ids whose container is being created and started. */
  private readonly creating = new Set<string>();
  /** Of those, the ones asked to stop meanwhile: stopped as soon as they run. */
  private readonly stopEarly = new Set<string>();
  private listener: ((exit: ProviderExit) => void) | undefined;
  private readonly settings: string[];
  /** Aborts the pending wait calls when the provider closes. */
  private readonly closing = new AbortController();
  private readonly clusterId: string;
  private readonly image: string;

  constructor(private readonly options: DockerProviderOptions) {
    const { config } = options;
    const { docker, daemon } = connect(config["resourcemanager.docker.host"]);
    this.docker = docker;
    this.daemon = daemon;
    this.settings = inheritedSettings(config);
    this.clusterId = config["high-availability.cluster-id"];
    this.image = config["resourcemanager.docker.image"];
  }

  async start(id: string): Promise<ProvidedTaskManager> {
    this.creating.add(id);
    try {
      return await this.create(id);
    } finally {
      this.creating.delete(id);
      this.stopEarly.delete(id);
    }
  }

  private async create(id: string): Promise<ProvidedTaskManager> {
    const { config, jobmanagerAddress, logger } = this.options;
    const startedAt = Date.now();
    const name = `riffle-${this.clusterId}-${id}`;
    const memory = config["resourcemanager.docker.memory"];
    const cpus = config["resourcemanager.docker.cpus"];
    const binds = config["resourcemanager.docker.binds"]
      .split(",")
      .map((b) => b.trim())
      .filter((b) => b.length > 0);
    let container: Docker.Container;
    try {
      container = await this.docker.createContainer({
        name,
        abortSignal: this.deadline(),
        Image: this.image,
        Cmd: [
          "taskmanager",
          ...this.settings,
          "--set",
          `taskmanager.id=${id}`,
          "--set",
          `taskmanager.jobmanager.address=${jobmanagerAddress}`,
          "--set",
          "taskmanager.rpc.port=0",
          "--set",
          "taskmanager.metrics.port=0",
        ],
        Env: containerEnv(process.env),
        Labels: {
          [LABELS.component]: "taskmanager",
          [LABELS.clusterId]: this.clusterId,
          [LABELS.taskmanagerId]: id,
          [LABELS.startedAt]: String(startedAt),
        },
        HostConfig: {
          NetworkMode: "host",
          // Signals reach Node, and Node is not PID 1 (which ignores signals it has no handler for).
          Init: true,
          ...(memory > 0 ? { Memory: memory } : {}),
          ...(cpus > 0 ? { NanoCpus: Math.round(cpus * 1e9) } : {}),
          ...(binds.length > 0 ? { Binds: binds } : {}),
        },
      });
    } catch (err) {
      throw this.failure(`create the container of TaskManager ${id}`, err);
    }
    try {
      await container.start({ abortSignal: this.deadline() });
    } catch (err) {
      await container.remove({ force: true, abortSignal: this.deadline() }).catch(() => {});
      throw this.failure(`start the container of TaskManager ${id}`, err);
    }
    const r = this.track(id, container, name, startedAt);
    logger.info({ taskmanagerId: id, container: name, image: this.image }, "started a TaskManager container");
    if (this.stopEarly.has(id)) await this.stop(id);
    return describe(r);
  }

  async stop(id: string): Promise<void> {
    const r = this.running.get(id);
    if (!r) {
      // Still being created (a registration timeout shorter than a slow daemon's create): stopped once it runs.
      if (this.creating.has(id)) this.stopEarly.add(id);
      return;
    }
    r.stopping = true;
    const t = this.options.stopTimeoutS ?? 15;
    try {
      // Docker sends SIGTERM, and SIGKILL after t seconds; it answers once the container ended.
      await r.container.stop({ t, abortSignal: this.deadline(t * 1000) });
    } catch (err) {
      // 304: it had ended already; 404: it is gone. Anything else: the daemon did not stop it.
      const status = (err as { statusCode?: number }).statusCode;
      if (status !== 304 && status !== 404) throw this.failure(`stop the container ${r.name}`, err);
    }
    await settlesWithin(r.exited, (t + 5) * 1000);
  }

  async list(): Promise<ProvidedTaskManager[]> {
    let containers: Docker.ContainerInfo[];
    try {
      containers = await this.docker.listContainers({
        all: true,
        abortSignal: this.deadline(),
        filters: { label: [`${LABELS.component}=taskmanager`, `${LABELS.clusterId}=${this.clusterId}`] },
      });
    } catch (err) {
      // The resource manager asks again, backing off, and starts and releases nothing until a list
      // answers: an empty list here would pass for "nothing to adopt", and the containers a previous
      // JobManager left would never be adopted.
      throw this.failure("list the cluster's TaskManager containers", err);
    }
    for (const info of containers) {
      const id = info.Labels[LABELS.taskmanagerId];
      const name = (info.Names[0] ?? info.Id).replace(/^\//, "");
      if (!id || this.running.has(id)) continue;
      const container = this.docker.getContainer(info.Id);
      if (info.State === "running") {
        this.track(id, container, name, Number(info.Labels[LABELS.startedAt]) || info.Created * 1000);
        this.options.logger.info({ taskmanagerId: id, container: name }, "adopted a TaskManager container a previous JobManager started");
      } else {
        // Ended (or created and never started) while no JobManager watched it.
        await container.remove({ force: true, abortSignal: this.deadline() }).catch(() => {});
        this.options.logger.info({ taskmanagerId: id, container: name, state: info.State }, "removed a TaskManager container a previous JobManager left");
      }
    }
    return [...this.running.values()].map(describe);
  }

  watch(listener: (exit: ProviderExit) => void): void {
    this.listener = listener;
  }

  async close(stopAll: boolean): Promise<void> {
    this.listener = undefined;
    if (stopAll) {
      await Promise.all(
        [...this.running.keys()].map((id) =>
          this.stop(id).catch((err: unknown) => this.options.logger.warn({ taskmanagerId: id, err: (err as Error).message }, "stopping a TaskManager failed")),
        ),
      );
    }
    this.closing.abort();
  }

  /** A signal that aborts a Docker call after the call timeout (plus `extraMs`, e.g. stop's grace period). */
  private deadline(extraMs = 0): AbortSignal {
    return AbortSignal.timeout((this.options.callTimeoutMs ?? CALL_TIMEOUT_MS) + extraMs);
  }

  private track(id: string, container: Docker.Container, name: string, startedAt: number): Running {
    let markExited = () => {};
    const exited = new Promise<void>((resolve) => {
      markExited = resolve;
    });
    const r: Running = { id, container, name, startedAt, stopping: false, exited, markExited };
    this.running.set(id, r);
    void this.waitForExit(r);
    return r;
  }

  /** Docker's wait call answers when the container ends; a daemon that went away is asked again. */
  private async waitForExit(r: Running): Promise<void> {
    const signal = this.closing.signal;
    let failures = 0;
    while (!signal.aborted && this.running.get(r.id) === r) {
      try {
        const result = (await r.container.wait({ abortSignal: signal })) as { StatusCode: number };
        await this.exited(r, result.StatusCode);
        return;
      } catch (err) {
        if (signal.aborted) return;
        if ((err as { statusCode?: number }).statusCode === 404) {
          this.forget(r, "is gone (its container was removed)", undefined);
          return;
        }
        // Once when the daemon goes away, then now and then: not every second of an outage.
        if (failures++ % 60 === 0) {
          this.options.logger.warn(
            { taskmanagerId: r.id, err: (err as Error).message },
            `lost sight of TaskManager container ${r.name} (${this.failure("wait for it", err).message}); asking again every ${RETRY_WAIT_MS} ms`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_WAIT_MS).unref());
      }
    }
  }

  /** Its container ended: why (from Docker's record), its last log lines, and the container removed. */
  private async exited(r: Running, statusCode: number): Promise<void> {
    let reason = `exited with code ${statusCode}`;
    let lastLines: string | undefined;
    if (!r.stopping) {
      try {
        const state = (await r.container.inspect({ abortSignal: this.deadline() })).State;
        if (state.OOMKilled) reason = `was killed for exceeding its memory limit (resourcemanager.docker.memory; exit code ${statusCode})`;
        else if (statusCode === 137) reason = "was killed (exit code 137: SIGKILL)";
        lastLines = tail(await r.container.logs({ stdout: true, stderr: true, tail: TAIL_LINES, follow: false, abortSignal: this.deadline() }));
      } catch {
        // Removed meanwhile: the exit code is all there is.
      }
    }
    await r.container.remove({ force: true, abortSignal: this.deadline() }).catch(() => {});
    this.forget(r, reason, lastLines);
  }

  private forget(r: Running, reason: string, lastLines: string | undefined): void {
    if (this.running.get(r.id) !== r) return;
    this.running.delete(r.id);
    r.markExited();
    if (r.stopping) return;
    this.options.logger.warn({ taskmanagerId: r.id, container: r.name, ...(lastLines ? { lastLines } : {}) }, `TaskManager container ${r.name} ${reason}`);
    this.listener?.({ id: r.id, reason: `(container ${r.name}) ${reason}` });
  }

  /** A PROVIDER_FAILED error that says what to do: start the daemon, build the image, or what Docker said. */
  private failure(what: string, err: unknown): RiffleError {
    const e = err as { statusCode?: number; code?: string; name?: string; message?: string; json?: { message?: string } };
    const said = e.json?.message ?? e.message ?? String(err);
    if (e.name === "AbortError" || e.name === "TimeoutError") {
      return new RiffleError(
        "PROVIDER_FAILED",
        `the Docker daemon at ${this.daemon} did not answer within ${(this.options.callTimeoutMs ?? CALL_TIMEOUT_MS) / 1000} s when asked to ${what}; is it overloaded or stuck?`,
        {
          cause: err,
        },
      );
    }
    if (e.statusCode === 404 && /image/i.test(said)) {
      return new RiffleError(
        "PROVIDER_FAILED",
        `image ${this.image} is not on the Docker daemon at ${this.daemon} (the docker provider never pulls): build it with \`npm run docker:image\` (deploy/docker/Dockerfile), load it with \`docker load\`, or set resourcemanager.docker.image`,
        { cause: err },
      );
    }
    if (e.code && !e.statusCode) {
      return new RiffleError(
        "PROVIDER_FAILED",
        `cannot reach the Docker daemon at ${this.daemon} (${e.code}) to ${what}: start dockerd, or point resourcemanager.docker.host (or DOCKER_HOST) at a running one`,
        { cause: err },
      );
    }
    return new RiffleError("PROVIDER_FAILED", `the Docker daemon at ${this.daemon} could not ${what}: ${said.trim()}`, { cause: err });
  }
}

/** A dockerode client for `resourcemanager.docker.host`: a socket path, unix://path, tcp://host:port; empty: DOCKER_HOST, else the default socket. */
export function connect(host: string): { docker: Docker; daemon: string } {
  const address = host || process.env.DOCKER_HOST || "unix:///var/run/docker.sock";
  if (address.startsWith("/")) return { docker: new Docker({ socketPath: address }), daemon: `unix://${address}` };
  const url = new URL(address);
  if (url.protocol === "unix:") return { docker: new Docker({ socketPath: url.pathname }), daemon: address };
  if (url.protocol === "tcp:" || url.protocol === "http:") {
    return { docker: new Docker({ host: url.hostname, port: Number(url.port) || 2375, protocol: "http" }), daemon: address };
  }
  throw new RiffleError(
    "CONFIG_INVALID",
    `resourcemanager.docker.host: ${address} is not a Docker daemon address the docker provider can use; expected a socket path, unix:///path or tcp://host:port`,
  );
}

/** RIFFLE_* variables the TaskManager reads that are not configuration keys: its logging. */
const LOGGING_VARIABLES = new Set(["RIFFLE_LOG_LEVEL", "RIFFLE_DEBUG"]);
/** Configuration keys by their variable's name (`RIFFLE_REST_PORT` → `rest.port`). */
const KEYS_BY_VARIABLE = new Map(Object.keys(CONFIG_OPTIONS).map((key) => [envVarName(key), key]));

/**
 * The environment of a TaskManager container: the JobManager's RIFFLE_* variables a child process
 * would see, filtered as its settings are (`inheritable`): a container's environment is readable by
 * anyone who may `docker inspect`, so the JobManager's alone (`rest.auth.*` tokens, the resource
 * manager's) stay out, as do the TaskManager's own (its id, address and ports are given as flags).
 * The rest of the JobManager's environment (PATH, HOME) belongs to this machine, not the image.
 */
export function containerEnv(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || !name.startsWith("RIFFLE_")) continue;
    const key = KEYS_BY_VARIABLE.get(name);
    if (key !== undefined ? inheritable(key, OWN_KEYS) : LOGGING_VARIABLES.has(name)) out.push(`${name}=${value}`);
  }
  return out;
}

function describe(r: Running): ProvidedTaskManager {
  return { id: r.id, startedAt: r.startedAt, where: `container ${r.name}` };
}

/** The last lines of `docker logs` output without a TTY: frames of an 8-byte header (stream, size) and text. */
function tail(buffer: Buffer): string {
  const parts: string[] = [];
  let at = 0;
  while (at + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(at + 4);
    parts.push(buffer.subarray(at + 8, at + 8 + size).toString("utf8"));
    at += 8 + size;
  }
  return parts.join("").trim();
}
