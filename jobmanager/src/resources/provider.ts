/**
 * Who starts and stops TaskManagers for the JobManager (Flink's ResourceManagerDriver): one contract,
 * a backend per orchestrator. The resource manager decides when; a provider only does what it is
 * told and says what it sees.
 */
export interface ProvidedTaskManager {
  /** The TaskManager's id (it registers under it: `taskmanager.id`). */
  id: string;
  /** When it was started (epoch ms), as far as the provider knows. */
  startedAt: number;
  /** Where it runs, for messages: a pid, a container or pod name. */
  where: string;
}

/** A TaskManager the provider started ended without being asked to. */
export interface ProviderExit {
  id: string;
  /** How it ended, for the log and the job's failure message: "exited with code 1", "was killed by SIGKILL". */
  reason: string;
}

export interface TaskManagerProvider {
  /** `process`, `standalone`, ...: for messages and metrics. */
  readonly name: string;
  /** Starts a TaskManager that registers as `id`; rejects with PROVIDER_FAILED when it cannot. */
  start(id: string): Promise<ProvidedTaskManager>;
  /** Stops it (gracefully, then by force); resolves once it is gone. Unknown ids are ignored. */
  stop(id: string): Promise<void>;
  /**
   * The TaskManagers this provider runs for this cluster, including those a previous JobManager
   * started (it adopts them: from now on it watches and stops them as its own).
   */
  list(): Promise<ProvidedTaskManager[]>;
  /** Tells `listener` about each TaskManager that ends without `stop`. */
  watch(listener: (exit: ProviderExit) => void): void;
  /**
   * Stops watching. `stopAll`: stop every TaskManager too (an orderly shutdown of the cluster); a
   * JobManager that crashes leaves them to the next one, which adopts them.
   */
  close(stopAll: boolean): Promise<void>;
}
