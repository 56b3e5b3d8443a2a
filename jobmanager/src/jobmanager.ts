import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type * as grpc from "@grpc/grpc-js";
import { SystemClock, componentLogger, createLogger, type Clock, type Logger, type RiffleConfig } from "@riffle/shared";
import { createHighAvailabilityServices, highAvailabilityConfig, type HighAvailabilityServices, type LeaderAddress } from "./ha/index.js";
import { JobManagerLeadership, LeaderPart } from "./leader/index.js";
import { checkClusterAutoscalerSettings, registerAutoscalerMetrics } from "./autoscaler/index.js";
import { createJobManagerMetrics } from "./metrics/index.js";
import { checkResourceSettings, registerResourceMetrics } from "./resources/index.js";
import { WorkerPlanner } from "./plan/index.js";
import { createRestServer, listenRest, type RestApp, type RestContext } from "./rest/index.js";
import { startRpcServer } from "./rpc/index.js";
import { BundleStore } from "./store/index.js";

/** Riffle's version: the jobmanager package's. */
const VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;

export interface JobManagerOptions {
  /** Time and every timer of the JobManager (registry, dispatcher, job masters, coordinators, leases); the system's by default. */
  clock?: Clock;
}

/**
 * The JobManager process, in two parts (Flink's split of a JobManager into its always-on endpoints and
 * its leader processes):
 *
 *   always on ─ REST API, gRPC server, /metrics, the HA services (campaigning, following the leader)
 *   leading  ─ a LeaderPart per leadership: TaskManager registry, slots, the fenced gateway to
 *              TaskManagers, dispatcher, job masters, checkpoint coordinators, collect buffers
 *
 * Without high availability (`high-availability.type: none`) the one JobManager leads from its start
 * and `create` resolves once it serves. With `etcd`, every JobManager campaigns; the leader takes over
 * the jobs in the job store, and a standby answers what it can (`/overview`, `/jobmanager/ha`,
 * `/metrics`) and sends every other request to the leader.
 */
export class JobManager {
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly logger: Logger,
    private readonly rest: RestApp,
    private readonly rpcServer: grpc.Server,
    private readonly ha: HighAvailabilityServices,
    private readonly leadership: JobManagerLeadership,
    private readonly planner: WorkerPlanner,
    /** Bound REST port (the configured one, or the free port picked for 0). */
    readonly restPort: number,
    /** Bound gRPC port. */
    readonly rpcPort: number,
    readonly storageDir: string,
    /** This JobManager's id in the election. */
    readonly leaderId: string,
  ) {}

  /**
   * Starts a JobManager: binds gRPC and REST, creates the HA services (checking the storage
   * directories and the etcd endpoints) and starts campaigning; logs "JobManager started". Rejects
   * with PORT_IN_USE when a port is taken, CONFIG_INVALID for HA settings that do not fit together
   * or endpoints that are not etcd, HA_STORAGE_FAILED for a storage directory that cannot be written.
   * An etcd that cannot be reached is no startup error: the JobManager retries, says so in its log,
   * and its REST API answers 503 "no leader: etcd unreachable at …" meanwhile.
   */
  static async create(config: RiffleConfig, logger: Logger = createLogger("jobmanager"), options: JobManagerOptions = {}): Promise<JobManager> {
    const clock = options.clock ?? SystemClock;
    const haConfig = highAvailabilityConfig(config);
    checkResourceSettings(config);
    checkClusterAutoscalerSettings(config);
    const storageDir = resolve(config["jobmanager.storage.dir"]);
    mkdirSync(storageDir, { recursive: true });

    // Made once the HA services checked the storage; a leader part is built only after that.
    let bundles: BundleStore | undefined;
    // Known once the gRPC server is bound, before any leadership: TaskManagers a provider starts register there.
    let rpcAddress = "";
    // Plan workers are reused across jobs and leaderships (loading the SDK costs ~0.5 s of CPU).
    const planner = new WorkerPlanner({ logger: componentLogger(logger, "plan") });
    const haLogger = componentLogger(logger, "ha");
    const leadership = new JobManagerLeadership({
      createPart: (stores, leaderId) =>
        new LeaderPart({
          config,
          stores,
          bundles: bundles!,
          recoverJobs: haConfig.type !== "none",
          leaderId,
          storageDir,
          rpcAddress,
          plan: (planOptions) => planner.plan(planOptions),
          clock,
          logger,
          onJobRecovered: () => haMetrics.jobRecovered(),
        }),
      events: {
        granted: () => haMetrics.leadershipChange("granted"),
        revoked: (reason) => haMetrics.leadershipChange("revoked", reason),
      },
      clock,
      logger: haLogger,
    });
    let ha: HighAvailabilityServices | undefined;
    const { metrics, haMetrics } = createJobManagerMetrics(() => leadership.serving(), {
      isLeader: () => leadership.serving() !== undefined,
      msSinceLastKeepAlive: () => {
        const lease = ha?.leaseStatus();
        return lease ? Math.max(0, clock.now() - lease.lastRenewedAt) : undefined;
      },
    });
    registerAutoscalerMetrics(metrics, () => leadership.serving());
    if (config["resourcemanager.provider"] !== "standalone") registerResourceMetrics(metrics, () => leadership.serving()?.resources);

    const { server: rpcServer, port: rpcPort } = await startRpcServer({
      host: config["jobmanager.rpc.address"],
      port: config["jobmanager.rpc.port"],
      leader: () => leadership.granted() ?? leadership.require(),
      dispatcher: () => leadership.require().dispatcher,
      bundles: () => bundles ?? leadership.require().options.bundles,
      logger: componentLogger(logger, "rpc"),
    });
    const ctx: RestContext = {
      config,
      leadership,
      get dispatcher() {
        return leadership.require().dispatcher;
      },
      get registry() {
        return leadership.require().registry;
      },
      get metricsHistory() {
        return leadership.require().metricsHistory;
      },
      get autoscaler() {
        return leadership.require().autoscaler;
      },
      metrics,
      logger: componentLogger(logger, "rest"),
      clock,
      version: VERSION,
      startTime: clock.now(),
    };
    const rest = await createRestServer(ctx);
    let restPort: number;
    try {
      restPort = await listenRest(rest, config["rest.bind-address"], config["rest.port"]);
    } catch (err) {
      rpcServer.forceShutdown();
      await rest.close();
      await planner.close();
      throw err;
    }
    const address: LeaderAddress = {
      rpcAddress: `${config["jobmanager.rpc.address"]}:${rpcPort}`,
      restAddress: `http://${restHost(config)}:${restPort}`,
    };
    rpcAddress = address.rpcAddress;
    const leaderId = `${address.rpcAddress}-${randomBytes(3).toString("hex")}`;
    try {
      ha = await createHighAvailabilityServices(config, { leaderId, logger: haLogger, clock, address });
      // Bundles are what every JobManager of a cluster must read: with high availability they live in its shared storage.
      bundles = new BundleStore(haConfig.type === "etcd" ? join(haConfig.storageDir, haConfig.clusterId, "bundles") : join(storageDir, "bundles"));
    } catch (err) {
      rpcServer.forceShutdown();
      await rest.close();
      await planner.close();
      await ha?.close();
      throw err;
    }
    // Only a JobManager that owns its ports campaigns: one that failed to start (PORT_IN_USE) must not
    // take a running JobManager's jobs over or mark them failed.
    leadership.start(ha, address);
    if (ha.type === "none") await leadership.whenServing();
    logger.info(
      { restPort, rpcPort, storageDir, leaderId, ha: ha.type, ...(ha.type === "etcd" ? { clusterId: ha.clusterId, endpoints: haConfig.etcd.endpoints } : {}) },
      "JobManager started",
    );
    return new JobManager(logger, rest, rpcServer, ha, leadership, planner, restPort, rpcPort, storageDir, leaderId);
  }

  /** Whether this JobManager leads and serves now. */
  get isLeader(): boolean {
    return this.leadership.serving() !== undefined;
  }

  /** Resolves once this JobManager leads and has taken over the jobs. */
  whenLeading(): Promise<void> {
    return this.leadership.whenServing();
  }

  /**
   * Stops serving. A leader resigns first (its lease is revoked, so a standby leads at once); jobs
   * keep their recorded status, for the next leader (high availability) or the next JobManager on
   * this storage (which marks unfinished ones FAILED).
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    // An orderly shutdown stops the TaskManagers its provider started; a crashed JobManager (or a
    // revoked leadership) leaves them to the next leader, which adopts them.
    await this.leadership.serving()?.resources?.close(true);
    // The election revokes a leadership synchronously (RESIGNED), closing the leader part, before the lease goes.
    await this.ha.close();
    this.leadership.close();
    await this.planner.close();
    this.rpcServer.forceShutdown();
    await this.rest.close();
    this.logger.info("JobManager stopped");
  }
}

/** The host clients reach the REST API at: `rest.address`, else `rest.bind-address` (this machine for a wildcard). */
function restHost(config: RiffleConfig): string {
  const host = config["rest.address"] || config["rest.bind-address"];
  if (host === "0.0.0.0" || host === "::" || host === "[::]") return "127.0.0.1";
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
