import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { freePort } from "@riffle/shared";
import type { HighAvailabilityInfo } from "@riffle/shared/rest-api";
import { type ClusterOptions, type Settings, TestCluster, setFlags } from "./cluster.js";
import type { EtcdCluster } from "./etcd.js";
import { RiffleProcess } from "./process.js";

export interface HaClusterOptions extends ClusterOptions {
  /** The etcd the JobManagers campaign in (started by the test). */
  etcd: EtcdCluster;
  /** JobManager processes (3 by default). */
  jobmanagers?: number;
  /** `high-availability.cluster-id`; a fresh one by default. */
  clusterId?: string;
  /**
   * Picks the JobManagers' gRPC ports beforehand and gives every JobManager the whole list as
   * `taskmanager.jobmanager.address`: what a resource manager's provider passes on to the
   * TaskManagers it starts, so that they follow a new leader.
   */
  jobmanagersKnowEachOther?: boolean;
}

/** One JobManager of the cluster, with where it serves. */
export interface HaJobManager {
  process: RiffleProcess;
  restUrl: string;
  rpcAddress: string;
}

/**
 * A highly available cluster for tests: N JobManager processes campaigning on a real etcd (shared
 * HA storage and checkpoint directories, each its own `jobmanager.storage.dir`, fixed ports so a
 * replacement can take a dead one's place), and TaskManagers given every JobManager's address. REST
 * calls go to whichever JobManager leads, found through `/jobmanager/ha`, and are retried across a
 * leader change.
 */
export class HaTestCluster extends TestCluster {
  readonly jobmanagers: HaJobManager[] = [];
  private leaderUrl: string | undefined;

  private constructor(
    jobmanagers: HaJobManager[],
    dir: string,
    options: ClusterOptions,
    readonly clusterId: string,
    private readonly settings: Settings,
  ) {
    super(jobmanagers[0]!.process, jobmanagers[0]!.restUrl, jobmanagers.map((j) => j.rpcAddress).join(","), dir, options);
    this.jobmanagers.push(...jobmanagers);
  }

  static async startHa(options: HaClusterOptions): Promise<HaTestCluster> {
    const dir = mkdtempSync(join(tmpdir(), "riffle-e2e-ha-"));
    const clusterId = options.clusterId ?? `e2e-${randomBytes(4).toString("hex")}`;
    const storageDir = join(dir, "ha");
    mkdirSync(storageDir, { recursive: true });
    const settings: Settings = {
      "high-availability.type": "etcd",
      "high-availability.cluster-id": clusterId,
      "high-availability.etcd.endpoints": options.etcd.endpointList,
      "high-availability.storageDir": storageDir,
      // Shared by every JobManager: a new leader restores what the old one checkpointed.
      "state.checkpoints.dir": join(dir, "checkpoints"),
      "state.savepoints.dir": join(dir, "savepoints"),
      ...options.config,
      ...options.jobmanager,
    };
    const count = options.jobmanagers ?? 3;
    const rpcPorts: number[] = [];
    if (options.jobmanagersKnowEachOther) {
      while (rpcPorts.length < count) {
        const port = await freePort();
        if (!rpcPorts.includes(port)) rpcPorts.push(port);
      }
      settings["taskmanager.jobmanager.address"] = rpcPorts.map((p) => `127.0.0.1:${p}`).join(",");
    }
    const jobmanagers: HaJobManager[] = [];
    try {
      const started = await Promise.all(Array.from({ length: count }, (_, i) => startJobManager(`jobmanager-${i}`, dir, settings, 0, rpcPorts[i] ?? 0)));
      jobmanagers.push(...started);
    } catch (err) {
      await Promise.all(jobmanagers.map((j) => j.process.stop()));
      throw err;
    }
    const cluster = new HaTestCluster(jobmanagers, dir, options, clusterId, settings);
    try {
      await cluster.leader();
      await Promise.all(Array.from({ length: options.taskmanagers ?? 2 }, () => cluster.addTaskManager()));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** The JobManager that leads and serves now, as the live JobManagers tell; waits for one up to `timeoutMs`. */
  async leader(timeoutMs = 30_000): Promise<HaJobManager> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const jm of this.jobmanagers) {
        if (jm.process.hasExited) continue;
        const info = await this.ha(jm).catch(() => undefined);
        if (info?.role === "leader") {
          this.leaderUrl = jm.restUrl;
          return jm;
        }
      }
      if (Date.now() > deadline) throw new Error(`no JobManager leads within ${timeoutMs} ms`);
      // Leadership is settled by etcd and the recovery of the jobs: asking again is the only signal.
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** GET /jobmanager/ha of one JobManager. */
  async ha(jm: HaJobManager): Promise<HighAvailabilityInfo> {
    const res = await fetch(`${jm.restUrl}/jobmanager/ha`, { signal: AbortSignal.timeout(2_000) });
    if (res.status !== 200) throw new Error(`GET /jobmanager/ha of ${jm.restUrl} answered ${res.status}`);
    return (await res.json()) as HighAvailabilityInfo;
  }

  /** Kills the leader with SIGKILL and waits until the process is gone; returns it. */
  async killLeader(): Promise<HaJobManager> {
    const jm = await this.leader();
    jm.process.kill("SIGKILL");
    await jm.process.exited;
    this.leaderUrl = undefined;
    return jm;
  }

  /** Starts a JobManager in the place of a dead one, on its ports (TaskManagers know those addresses). */
  async replace(dead: HaJobManager): Promise<HaJobManager> {
    const index = this.jobmanagers.indexOf(dead);
    const [, restPort] = dead.restUrl.split(/:(?=\d+$)/);
    const [, rpcPort] = dead.rpcAddress.split(":");
    const jm = await startJobManager(`jobmanager-${index}'`, this.dir, this.settings, Number(restPort), Number(rpcPort));
    this.jobmanagers[index] = jm;
    return jm;
  }

  /** A REST call to the leader; across a leader change it waits for the next one (30 s at most). */
  override async rest<T = unknown>(method: string, path: string, body?: unknown, authorization?: string): Promise<{ status: number; body: T }> {
    const deadline = Date.now() + 30_000;
    let last: unknown;
    for (;;) {
      const base = this.leaderUrl ?? (await this.leader(Math.max(0, deadline - Date.now()))).restUrl;
      try {
        const res = await this.restAt<T>(base, method, path, body, authorization);
        // 503 NOT_LEADER or a redirect: this JobManager no longer leads.
        if (res.status !== 503 && res.status !== 307) return res;
        last = `${res.status} ${JSON.stringify(res.body)}`;
      } catch (err) {
        last = err;
      }
      this.leaderUrl = undefined;
      if (Date.now() > deadline) throw new Error(`${method} ${path}: no leader answered within 30 s (${String(last)})`);
    }
  }

  override async stop(): Promise<void> {
    await Promise.all(this.taskmanagers.map((tm) => tm.stop()));
    await Promise.all(this.jobmanagers.map((jm) => jm.process.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts one JobManager of the cluster and waits until it serves (as leader or standby). */
async function startJobManager(name: string, dir: string, settings: Settings, restPort: number, rpcPort: number): Promise<HaJobManager> {
  const process = new RiffleProcess(name, [
    "jobmanager",
    ...setFlags({
      "rest.port": restPort,
      "jobmanager.rpc.port": rpcPort,
      "jobmanager.storage.dir": mkdtempSync(join(dir, "jm-")),
      ...settings,
    }),
  ]);
  const started = await process
    .waitForLog((l) => l.msg === "JobManager started", 30_000)
    .catch(async (err: unknown) => {
      await process.stop();
      throw err;
    });
  return { process, restUrl: `http://127.0.0.1:${started.restPort}`, rpcAddress: `127.0.0.1:${started.rpcPort}` };
}
