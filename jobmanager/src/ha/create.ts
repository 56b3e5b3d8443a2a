import { SystemClock, type Clock, type Logger, type RiffleConfig } from "@riffle/shared";
import { highAvailabilityConfig } from "./config.js";
import type { HighAvailabilityServices } from "./high-availability-services.js";
import type { LeaderAddress } from "./leader-election.js";
import { StandaloneHighAvailabilityServices } from "./standalone/standalone-high-availability-services.js";

export interface HighAvailabilityOptions {
  /** This JobManager's id: the value of its election key, and the leader id it publishes. */
  leaderId: string;
  logger: Logger;
  /** Timers and deadlines of leases and retries; the system clock by default. */
  clock?: Clock;
  /**
   * Where this JobManager serves (its bound ports): without high availability it is the leader
   * followers are told of. By default, the configured addresses.
   */
  address?: LeaderAddress;
}

/**
 * The HA services `high-availability.type` asks for. Rejects with CONFIG_INVALID for settings that do
 * not fit together or endpoints that are not etcd, and HA_STORAGE_FAILED for a storage directory that
 * is not writable: startup errors. An etcd not reachable yet is not one (the election retries). The
 * etcd client is loaded only for `etcd`.
 */
export async function createHighAvailabilityServices(config: RiffleConfig, options: HighAvailabilityOptions): Promise<HighAvailabilityServices> {
  const ha = highAvailabilityConfig(config);
  const clock = options.clock ?? SystemClock;
  if (ha.type === "etcd") {
    const { EtcdHighAvailabilityServices } = await import("./etcd/etcd-high-availability-services.js");
    return EtcdHighAvailabilityServices.create(ha, { leaderId: options.leaderId, clock, logger: options.logger });
  }
  return StandaloneHighAvailabilityServices.create(ha, {
    leaderId: options.leaderId,
    clock,
    logger: options.logger,
    leader: options.address ?? {
      rpcAddress: config["taskmanager.jobmanager.address"] || `${config["jobmanager.rpc.address"]}:${config["jobmanager.rpc.port"]}`,
      restAddress: `http://${config["rest.bind-address"]}:${config["rest.port"]}`,
    },
  });
}
