import { TaskManager } from "@riffle/taskmanager";
import { createLogger, parseHostPort, RiffleError } from "@riffle/shared";
import { resolveConfig, type GlobalOptions } from "../options.js";
import { serve } from "./serve.js";

export interface TaskManagerCommandOptions {
  jobmanager?: string;
  slots?: string;
  rpcPort?: string;
  metricsPort?: string;
}

/**
 * `riffle taskmanager`: runs a TaskManager in the foreground until SIGTERM or Ctrl-C (exit 0), or
 * until it gives up on its JobManager or fails otherwise (exit 1, the reason in its last log line).
 */
export async function taskmanagerCommand(globals: GlobalOptions, options: TaskManagerCommandOptions): Promise<number> {
  if (options.jobmanager !== undefined) {
    try {
      parseHostPort(options.jobmanager);
    } catch (err) {
      throw new RiffleError("CONFIG_INVALID", `--jobmanager: ${(err as Error).message} (the JobManager's gRPC address, e.g. 127.0.0.1:6123)`);
    }
  }
  const config = resolveConfig(globals, {
    "taskmanager.jobmanager.address": options.jobmanager,
    "taskmanager.slots": options.slots,
    "taskmanager.rpc.port": options.rpcPort,
    "taskmanager.metrics.port": options.metricsPort,
  });
  const log = createLogger("taskmanager");
  return serve((signal) => TaskManager.create(config, log, signal), { name: "TaskManager", log });
}
