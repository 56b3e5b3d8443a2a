import type { RiffleError } from "@riffle/shared";
import type { LeaderInformation } from "./leader-election.js";

/** Hears who leads (Flink's LeaderRetrievalListener). */
export interface LeaderRetrievalListener {
  /**
   * The leader changed: its information, or undefined while there is none (between the old leader's
   * end and the new one's confirmation). Called once at start with what is known then.
   */
  notifyLeaderAddress(leader: LeaderInformation | undefined): void;
  /** Following the leader failed for now (etcd unreachable); the service retries by itself. */
  handleError(error: RiffleError): void;
}

/**
 * Follows the cluster's leader: TaskManagers to register with it, the CLI and REST clients to talk to
 * it, standbys to point requests at it.
 */
export interface LeaderRetrievalService {
  start(listener: LeaderRetrievalListener): void;
  close(): Promise<void>;
}
