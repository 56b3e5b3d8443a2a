import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { SystemClock, loadConfig } from "@riffle/shared";
import type { EtcdCluster } from "../../../e2e/harness/etcd.js";
import { EtcdHighAvailabilityServices } from "../ha/etcd/etcd-high-availability-services.js";
import { highAvailabilityConfig } from "../ha/index.js";
import { silentLogger } from "./fixtures.js";

/** A cluster id no other test uses: tests share one etcd and never see each other's keys. */
export function uniqueClusterId(name: string): string {
  return `${name}-${randomBytes(4).toString("hex")}`;
}

/**
 * HA settings for a test: a 1 s lease (the harness's fast etcd grants it; etcd's default timing
 * rounds it up to 2 s), a 400 ms call deadline, a fresh storage directory.
 */
export function haSettings(etcd: EtcdCluster, clusterId: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    "high-availability.type": "etcd",
    "high-availability.cluster-id": clusterId,
    "high-availability.etcd.endpoints": etcd.endpointList,
    "high-availability.etcd.lease-ttl": "1s",
    "high-availability.etcd.call-timeout": "400ms",
    // Inside the cluster's directory, which EtcdCluster.close() removes.
    "high-availability.storageDir": mkdtempSync(join(etcd.dir, "ha-")),
    ...extra,
  };
}

/** The etcd HA services of one in-process candidate. */
export function etcdServices(settings: Record<string, string>, leaderId: string): Promise<EtcdHighAvailabilityServices> {
  return EtcdHighAvailabilityServices.create(highAvailabilityConfig(loadConfig({ env: {}, overrides: settings })), {
    leaderId,
    clock: SystemClock,
    logger: silentLogger,
  });
}

/**
 * Resolves once `probe` returns true, asking again every 20 ms; rejects after `timeoutMs`. For states
 * only etcd can tell (whose keys exist), where no event reaches the test.
 */
export async function until(probe: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`not ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Resolves once the election's candidates are `ids`, in this order (the leader first). */
export function untilCandidates(ha: EtcdHighAvailabilityServices, ids: string[], timeoutMs = 10_000): Promise<void> {
  return until(async () => JSON.stringify(await ha.leaderElection.candidates()) === JSON.stringify(ids), timeoutMs, `candidates ${ids.join(", ")}`);
}
