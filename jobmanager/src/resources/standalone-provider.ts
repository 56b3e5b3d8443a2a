import { RiffleError } from "@riffle/shared";
import type { ProvidedTaskManager, TaskManagerProvider } from "./provider.js";

/**
 * `standalone`: TaskManagers are started by hand (or by `riffle cluster start`) and register on
 * their own; the JobManager starts and stops none. Jobs that need more slots wait for them and fail
 * after jobmanager.slot-request.timeout, as before.
 */
export class StandaloneProvider implements TaskManagerProvider {
  readonly name = "standalone";

  start(): Promise<ProvidedTaskManager> {
    return Promise.reject(
      new RiffleError(
        "PROVIDER_FAILED",
        "resourcemanager.provider is standalone: the JobManager starts no TaskManagers; start them by hand, or choose the process provider",
      ),
    );
  }

  async stop(): Promise<void> {}

  async list(): Promise<ProvidedTaskManager[]> {
    return [];
  }

  watch(): void {}

  async close(): Promise<void> {}
}
