import { resolve } from "node:path";
import { RiffleError, type RiffleConfig } from "@riffle/shared";

export type HighAvailabilityType = RiffleConfig["high-availability.type"];

/** The high-availability settings, checked together and made absolute. */
export interface HighAvailabilityConfig {
  type: HighAvailabilityType;
  clusterId: string;
  /** `high-availability.storageDir`, absolute. */
  storageDir: string;
  /** `jobmanager.storage.dir`, absolute: where `none` keeps its job records. */
  jobManagerStorageDir: string;
  etcd: {
    endpoints: string[];
    leaseTtlMs: number;
    callTimeoutMs: number;
  };
}

/**
 * Reads the high-availability keys. The schema checks each key alone; this checks them together:
 * the etcd call deadline must leave room to retry a failed lease keep-alive within the lease TTL.
 */
export function highAvailabilityConfig(config: RiffleConfig): HighAvailabilityConfig {
  const leaseTtlMs = config["high-availability.etcd.lease-ttl"];
  const callTimeoutMs = config["high-availability.etcd.call-timeout"];
  if (config["high-availability.type"] === "etcd" && callTimeoutMs * 2 > leaseTtlMs) {
    throw new RiffleError(
      "CONFIG_INVALID",
      `high-availability.etcd.call-timeout (${callTimeoutMs} ms) must be at most half of high-availability.etcd.lease-ttl (${leaseTtlMs} ms), so a failed lease keep-alive can be retried before the lease runs out`,
    );
  }
  return {
    type: config["high-availability.type"],
    clusterId: config["high-availability.cluster-id"],
    storageDir: resolve(config["high-availability.storageDir"]),
    jobManagerStorageDir: resolve(config["jobmanager.storage.dir"]),
    etcd: { endpoints: config["high-availability.etcd.endpoints"], leaseTtlMs, callTimeoutMs },
  };
}

/** Every etcd key of a cluster lives under this prefix, so clusters sharing one etcd never meet. */
export function etcdKeyPrefix(clusterId: string): string {
  return `/riffle/${clusterId}/`;
}
