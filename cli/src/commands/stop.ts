import { resolve } from "node:path";
import type { GlobalOptions } from "../options.js";
import { write } from "../output.js";
import { clientFor } from "./client.js";
import { waitForOperation } from "./operation.js";

/** How long `riffle stop` waits for the savepoint and the tasks to stop. */
const STOP_DEADLINE_MS = 10 * 60_000;

/**
 * `riffle stop <jobId> [--savepoint [dir]]`: stops a running job with a savepoint (into `dir`, made
 * absolute here, or the cluster's state.savepoints.dir), waits until the job has FINISHED and prints
 * the savepoint's location on stdout. If the savepoint fails the job keeps running.
 */
export async function stopCommand(globals: GlobalOptions, jobId: string, options: { jobmanager?: string; savepoint?: string | boolean }): Promise<number> {
  const client = clientFor(globals, options.jobmanager);
  const dir = typeof options.savepoint === "string" ? resolve(options.savepoint) : undefined;
  const triggerId = await client.stopJob(jobId, dir === undefined ? {} : { targetDirectory: dir });
  await write(process.stderr, `Stopping job ${jobId} with a savepoint...\n`);
  const location = await waitForOperation(() => client.savepointStatus(jobId, triggerId), {
    what: `the stop of job ${jobId}`,
    deadlineMs: STOP_DEADLINE_MS,
  });
  await write(process.stderr, `Job ${jobId} FINISHED; savepoint:\n`);
  await write(process.stdout, `${location}\n`);
  return 0;
}
