import { join } from "node:path";
import type { Clock, Logger } from "@riffle/shared";
import { JobStore as JobRecordFiles } from "../../store/index.js";
import type { HighAvailabilityConfig } from "../config.js";
import { DefaultLeaderElectionService } from "../default-leader-election-service.js";
import type { HighAvailabilityServices, LeaderStores } from "../high-availability-services.js";
import type { LeaderInformation, LeaderSession } from "../leader-election.js";
import type { LeaderRetrievalService } from "../leader-retrieval.js";
import { FileJobStore } from "./file-job-store.js";
import { InMemoryCheckpointIdCounter, InMemoryCompletedCheckpointStore, InMemoryHaState, InMemoryJobResultStore } from "./in-memory-stores.js";
import { StandaloneLeaderElectionDriver, nextLeaderEpoch } from "./standalone-leader-election-driver.js";
import { StandaloneLeaderRetrievalService } from "./standalone-leader-retrieval-service.js";

/**
 * High availability `none`: one JobManager, the leader from its start to its end. Job records stay
 * the files in `<jobmanager.storage.dir>/jobs/` they are today; checkpoint ids, checkpoint pointers and
 * job results live in memory, since jobs do not outlive this JobManager (Flink's standalone services).
 */
export class StandaloneHighAvailabilityServices implements HighAvailabilityServices {
  readonly type = "none" as const;
  private readonly state = new InMemoryHaState();

  private constructor(
    readonly clusterId: string,
    readonly leaderElection: DefaultLeaderElectionService,
    private readonly files: JobRecordFiles,
    private readonly leader: LeaderInformation,
  ) {}

  /**
   * `leader`: where followers find this JobManager (configured, not discovered). HA_STORAGE_FAILED
   * when `jobmanager.storage.dir` is not writable.
   */
  static async create(
    config: HighAvailabilityConfig,
    options: { leaderId: string; leader: Omit<LeaderInformation, "token" | "leaderId">; clock: Clock; logger: Logger },
  ): Promise<StandaloneHighAvailabilityServices> {
    const epoch = await nextLeaderEpoch(config.jobManagerStorageDir);
    const driver = new StandaloneLeaderElectionDriver(epoch, options.leaderId, options.clock);
    const files = new JobRecordFiles(join(config.jobManagerStorageDir, "jobs"), options.logger);
    return new StandaloneHighAvailabilityServices(config.clusterId, new DefaultLeaderElectionService(driver, options.leaderId, options.logger), files, {
      ...options.leader,
      leaderId: options.leaderId,
      token: null,
    });
  }

  createLeaderRetrievalService(): LeaderRetrievalService {
    return new StandaloneLeaderRetrievalService(this.leader);
  }

  stores(session: LeaderSession): LeaderStores {
    const state = this.state;
    return {
      session,
      jobs: new FileJobStore(this.files, session),
      jobResults: new InMemoryJobResultStore(state, session),
      checkpointIdCounter: (jobId) => new InMemoryCheckpointIdCounter(state, jobId, session),
      completedCheckpoints: (jobId) => new InMemoryCompletedCheckpointStore(state, jobId, session),
    };
  }

  leaseStatus(): undefined {
    return undefined;
  }

  close(): Promise<void> {
    return this.leaderElection.close();
  }
}
