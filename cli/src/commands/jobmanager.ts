import { JobManager } from "@riffle/jobmanager";
import { resolveConfig, type GlobalOptions } from "../options.js";
import { serve } from "./serve.js";

export interface JobManagerCommandOptions {
  restPort?: string;
  rpcPort?: string;
  storageDir?: string;
}

/** `riffle jobmanager`: runs a JobManager in the foreground until SIGTERM or Ctrl-C. */
export async function jobmanagerCommand(globals: GlobalOptions, options: JobManagerCommandOptions): Promise<number> {
  const config = resolveConfig(globals, {
    "rest.port": options.restPort,
    "jobmanager.rpc.port": options.rpcPort,
    "jobmanager.storage.dir": options.storageDir,
  });
  return serve(() => JobManager.create(config));
}
