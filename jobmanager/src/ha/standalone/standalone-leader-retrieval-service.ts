import type { LeaderInformation } from "../leader-election.js";
import type { LeaderRetrievalListener, LeaderRetrievalService } from "../leader-retrieval.js";

/** The leader is the JobManager the configuration names (`high-availability.type: none`); it never changes. */
export class StandaloneLeaderRetrievalService implements LeaderRetrievalService {
  private started = false;

  constructor(private readonly leader: LeaderInformation) {}

  start(listener: LeaderRetrievalListener): void {
    if (this.started) return;
    this.started = true;
    listener.notifyLeaderAddress(this.leader);
  }

  async close(): Promise<void> {}
}
