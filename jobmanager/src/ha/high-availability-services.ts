import type { CheckpointIdCounter, CompletedCheckpointStore } from "./checkpoint-stores.js";
import type { HighAvailabilityType } from "./config.js";
import type { JobResultStore } from "./job-result-store.js";
import type { JobStore } from "./job-store.js";
import type { LeaderElectionService, LeaderSession } from "./leader-election.js";
import type { LeaderRetrievalService } from "./leader-retrieval.js";

/**
 * The stores a leader writes, every write fenced by the leadership they were opened for: once that
 * session ended, writes fail with LEADERSHIP_LOST (checked on this process's clock first, then by the
 * coordination service itself), so a deposed leader's late write changes nothing.
 */
export interface LeaderStores {
  readonly session: LeaderSession;
  readonly jobs: JobStore;
  readonly jobResults: JobResultStore;
  checkpointIdCounter(jobId: string): CheckpointIdCounter;
  completedCheckpoints(jobId: string): CompletedCheckpointStore;
}

/**
 * Everything high availability gives the JobManager (Flink's HighAvailabilityServices), behind one
 * interface with a `none` implementation (one JobManager, its records in files and memory) and an
 * `etcd` one.
 *
 * ```ts
 * const ha = await createHighAvailabilityServices(config, { leaderId, logger });
 * ha.leaderElection.start({
 *   grantLeadership: (session) => startLeaderPart(ha.stores(session)), // then confirmLeadership(session, address)
 *   revokeLeadership: () => stopLeaderPartNow(),                      // synchronously
 *   handleError: (err) => logger.warn(err.message),
 * });
 * ```
 */
export interface HighAvailabilityServices {
  readonly type: HighAvailabilityType;
  readonly clusterId: string;
  /** The election every JobManager process of the cluster campaigns in (one per process). */
  readonly leaderElection: LeaderElectionService;
  /** Follows the leader of the cluster. */
  createLeaderRetrievalService(): LeaderRetrievalService;
  /** The stores, their writes fenced by `session`. */
  stores(session: LeaderSession): LeaderStores;
  /**
   * The lease behind this process's campaign, for health and metrics: its TTL and when it was last
   * renewed (on the HA services' clock); undefined without a lease (`none`, or between campaigns).
   */
  leaseStatus(): { ttlMs: number; lastRenewedAt: number } | undefined;
  /** Stops the election (a leader resigns) and the retrieval services it created, and releases the connection to the coordination service. */
  close(): Promise<void>;
}
