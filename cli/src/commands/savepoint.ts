import { resolve } from "node:path";
import type { GlobalOptions } from "../options.js";
import { write } from "../output.js";
import { clientFor } from "./client.js";
import { waitForOperation } from "./operation.js";

/** How long `riffle savepoint` waits: the default checkpoint timeout (execution.checkpointing.timeout). */
const SAVEPOINT_DEADLINE_MS = 10 * 60_000;

/**
 * `riffle savepoint <jobId> [targetDirectory]`: takes a savepoint of a running job (into the
 * directory given, made absolute here, or the cluster's state.savepoints.dir), waits for it and
 * prints its location on stdout.
 */
export async function savepointCommand(
  globals: GlobalOptions,
  jobId: string,
  targetDirectory: string | undefined,
  options: { jobmanager?: string },
): Promise<number> {
  const client = clientFor(globals, options.jobmanager);
  const triggerId = await client.triggerSavepoint(jobId, targetDirectory === undefined ? {} : { targetDirectory: resolve(targetDirectory) });
  await write(process.stderr, `Triggered a savepoint of job ${jobId}; waiting for it to complete...\n`);
  const location = await waitForOperation(() => client.savepointStatus(jobId, triggerId), {
    what: `the savepoint of job ${jobId}`,
    deadlineMs: SAVEPOINT_DEADLINE_MS,
  });
  await write(process.stderr, "Savepoint completed.\n");
  await write(process.stdout, `${location}\n`);
  return 0;
}
