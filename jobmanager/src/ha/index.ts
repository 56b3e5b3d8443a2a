/**
 * High availability (Flink's HighAvailabilityServices): leader election, leader retrieval, and the
 * stores a leader keeps its jobs in, behind one interface with two implementations: `none` (one
 * JobManager; job records in `jobmanager.storage.dir`, the rest in memory) and `etcd` (leases,
 * fenced transactions, watches; payloads in `high-availability.storageDir`).
 *
 * ```ts
 * const ha = await createHighAvailabilityServices(config, { leaderId: "jm-1", logger });
 * ha.leaderElection.start({
 *   grantLeadership(session) {
 *     const stores = ha.stores(session);             // writes fenced by this leadership
 *     // recover jobs from stores.jobs, then:
 *     void ha.leaderElection.confirmLeadership(session, { rpcAddress, restAddress });
 *   },
 *   revokeLeadership(session, reason) {
 *     // stop deploying, checkpointing and writing: now, synchronously
 *   },
 *   handleError(err) {},
 * });
 * ha.createLeaderRetrievalService().start({ notifyLeaderAddress(leader) {}, handleError(err) {} });
 * await ha.close();                                  // a leader resigns: a standby leads at once
 * ```
 */
export { createHighAvailabilityServices, type HighAvailabilityOptions } from "./create.js";
export { highAvailabilityConfig, etcdKeyPrefix, type HighAvailabilityConfig, type HighAvailabilityType } from "./config.js";
export type { HighAvailabilityServices, LeaderStores } from "./high-availability-services.js";
export {
  LEADERSHIP_LOST_REASONS,
  type LeaderAddress,
  type LeaderContender,
  type LeaderElectionDriver,
  type LeaderElectionDriverListener,
  type LeaderElectionService,
  type LeaderElectionState,
  type LeaderInformation,
  type LeaderSession,
  type LeadershipLostReason,
} from "./leader-election.js";
export type { LeaderRetrievalListener, LeaderRetrievalService } from "./leader-retrieval.js";
export { DefaultLeaderElectionService } from "./default-leader-election-service.js";
export { leadershipLost, requireLeadership } from "./fencing.js";
export type { JobStore } from "./job-store.js";
export type { JobResult, JobResultEntry, JobResultStore, TerminalJobStatus } from "./job-result-store.js";
export type { CheckpointIdCounter, CheckpointPointer, CompletedCheckpointStore } from "./checkpoint-stores.js";
export { StandaloneHighAvailabilityServices } from "./standalone/standalone-high-availability-services.js";
/** The etcd services are loaded only when configured (create.ts imports them on demand): a JobManager without high availability never loads etcd3. */
export type { EtcdHighAvailabilityServices } from "./etcd/etcd-high-availability-services.js";
