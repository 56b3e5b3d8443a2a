import { join } from "node:path";
import type { Clock, Logger } from "@riffle/shared";
import type { HighAvailabilityConfig } from "../config.js";
import { DefaultLeaderElectionService } from "../default-leader-election-service.js";
import type { HighAvailabilityServices, LeaderStores } from "../high-availability-services.js";
import type { LeaderSession } from "../leader-election.js";
import type { LeaderRetrievalService } from "../leader-retrieval.js";
import { HaStorageDir } from "../storage-dir.js";
import { EtcdCheckpointIdCounter, EtcdCompletedCheckpointStore } from "./etcd-checkpoint-stores.js";
import { EtcdConnection } from "./etcd-connection.js";
import { EtcdJobResultStore } from "./etcd-job-result-store.js";
import { EtcdJobStore } from "./etcd-job-store.js";
import { EtcdLeaderElectionDriver } from "./etcd-leader-election-driver.js";
import { EtcdLeaderRetrievalService } from "./etcd-leader-retrieval-service.js";
import { LeaseKeeper } from "./lease-keeper.js";
import { KeyedSerializer } from "./serial.js";

/** High availability on etcd: leader election with a lease, fenced stores, leader retrieval by watch. */
export class EtcdHighAvailabilityServices implements HighAvailabilityServices {
  readonly type = "etcd" as const;
  /** One per process: writes of one key stay in order across the stores opened for each session. */
  private readonly serial = new KeyedSerializer();
  private readonly retrievals = new Set<EtcdLeaderRetrievalService>();

  private constructor(
    readonly clusterId: string,
    readonly connection: EtcdConnection,
    readonly driver: EtcdLeaderElectionDriver,
    readonly leaderElection: DefaultLeaderElectionService,
    private readonly storage: HaStorageDir,
    private readonly keeper: LeaseKeeper,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /**
   * Checks the storage directory (HA_STORAGE_FAILED when not writable) and the endpoints
   * (CONFIG_INVALID when they answer but are not etcd). An etcd that cannot be reached yet is no
   * error: the election retries until it can, and says so in the log.
   */
  static async create(config: HighAvailabilityConfig, options: { leaderId: string; clock: Clock; logger: Logger }): Promise<EtcdHighAvailabilityServices> {
    const storage = new HaStorageDir(join(config.storageDir, config.clusterId));
    await storage.check();
    const connection = new EtcdConnection({
      endpoints: config.etcd.endpoints,
      clusterId: config.clusterId,
      callTimeoutMs: config.etcd.callTimeoutMs,
      logger: options.logger,
    });
    try {
      const { version } = await connection.check();
      options.logger.info({ endpoints: connection.endpoints, version, prefix: connection.prefix }, `etcd ${version} reachable at ${connection.where}`);
    } catch (err) {
      if ((err as { code?: string }).code !== "HA_UNAVAILABLE") {
        connection.close();
        throw err;
      }
      options.logger.warn(
        { endpoints: connection.endpoints, err: (err as Error).message },
        `etcd unreachable at ${connection.where}; campaigning will retry until it answers`,
      );
    }
    let keeper: LeaseKeeper;
    try {
      keeper = await LeaseKeeper.start(
        { endpoints: config.etcd.endpoints, clusterId: config.clusterId, callTimeoutMs: config.etcd.callTimeoutMs },
        options.clock,
        options.logger,
      );
    } catch (err) {
      connection.close();
      throw err;
    }
    const driver = new EtcdLeaderElectionDriver(connection, {
      leaderId: options.leaderId,
      leaseTtlMs: config.etcd.leaseTtlMs,
      keeper,
      clock: options.clock,
      logger: options.logger,
    });
    const election = new DefaultLeaderElectionService(driver, options.leaderId, options.logger);
    return new EtcdHighAvailabilityServices(config.clusterId, connection, driver, election, storage, keeper, options.clock, options.logger);
  }

  createLeaderRetrievalService(): LeaderRetrievalService {
    const retrieval = new EtcdLeaderRetrievalService(this.connection, this.clock, this.logger);
    this.retrievals.add(retrieval);
    return retrieval;
  }

  stores(session: LeaderSession): LeaderStores {
    const { connection, driver, serial, logger } = this;
    return {
      session,
      jobs: new EtcdJobStore(connection, driver, session, serial, this.storage, logger),
      jobResults: new EtcdJobResultStore(connection, driver, session, serial, logger),
      checkpointIdCounter: (jobId) => new EtcdCheckpointIdCounter(connection, driver, session, serial, jobId),
      completedCheckpoints: (jobId) => new EtcdCompletedCheckpointStore(connection, driver, session, serial, jobId, logger),
    };
  }

  leaseStatus(): { ttlMs: number; lastRenewedAt: number } | undefined {
    const lease = this.driver.lease;
    return lease ? { ttlMs: lease.ttlMs, lastRenewedAt: lease.lastRenewedAt } : undefined;
  }

  /** Resigns (a leader), stops following the leader, and closes the connection to etcd. */
  async close(): Promise<void> {
    await Promise.all([this.leaderElection.close(), ...[...this.retrievals].map((r) => r.close())]);
    await this.keeper.close();
    this.connection.close();
  }
}
