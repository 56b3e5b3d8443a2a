import { JobManager } from "@riffle/jobmanager";
import { createLogger } from "@riffle/shared";
import { resolveConfig, type GlobalOptions } from "../options.js";
import { serve } from "./serve.js";

export interface JobManagerCommandOptions {
  restPort?: string;
  rpcPort?: string;
  storageDir?: string;
}

/** `riffle jobmanager`: runs a JobManager in the foreground until SIGTERM or Ctrl-C (exit 0), or a fatal error (exit 1). */
export async function jobmanagerCommand(globals: GlobalOptions, options: JobManagerCommandOptions): Promise<number> {
  const config = resolveConfig(globals, {
    "rest.port": options.restPort,
    "jobmanager.rpc.port": options.rpcPort,
    "jobmanager.storage.dir": options.storageDir,
  });
  const log = createLogger("jobmanager");
  return serve(() => JobManager.create(config, log), { name: "JobManager", log });
}
