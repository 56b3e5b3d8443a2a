import type { Logger, Registry, RiffleConfig } from "@riffle/shared";
import type { Dispatcher } from "../dispatcher/index.js";
import type { TaskManagerRegistry } from "../registry/index.js";

/** What the REST routes read from. */
export interface RestContext {
  config: RiffleConfig;
  dispatcher: Dispatcher;
  registry: TaskManagerRegistry;
  metrics: Registry;
  logger: Logger;
}
