/**
 * @riffle/jobmanager — the JobManager process: plans submitted jobs, schedules their subtasks onto
 * TaskManager slots, follows them to the end and hands `collect` results to clients.
 *
 * ```ts
 * import { loadConfig } from "@riffle/shared";
 * import { JobManager } from "@riffle/jobmanager";
 *
 * const jm = await JobManager.create(loadConfig({ overrides: { "rest.port": 0, "jobmanager.rpc.port": 0 } }));
 * const { restPort, rpcPort } = jm; // the bound ports (0 picks free ones)
 * await jm.close();
 * ```
 */
export { JobManager } from "./jobmanager.js";
export { bundleJobModule, type JobModule } from "./plan/index.js";
