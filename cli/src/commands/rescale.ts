import type { GlobalOptions } from "../options.js";
import { write } from "../output.js";
import { clientFor } from "./client.js";
import { waitForOperation } from "./operation.js";

/** How long `riffle rescale` waits: a savepoint, the tasks stopping, and a redeployment. */
const RESCALE_DEADLINE_MS = 10 * 60_000;

/**
 * `riffle rescale <jobId> --parallelism <n>`: stops the job with a savepoint and restarts it from
 * there at parallelism n (the same job id), waits until it runs again and prints the savepoint's
 * location on stdout.
 */
export async function rescaleCommand(globals: GlobalOptions, jobId: string, options: { jobmanager?: string; parallelism: number }): Promise<number> {
  const client = clientFor(globals, options.jobmanager);
  const triggerId = await client.rescaleJob(jobId, options.parallelism);
  await write(process.stderr, `Rescaling job ${jobId} to parallelism ${options.parallelism} (savepoint, then restart)...\n`);
  const location = await waitForOperation(() => client.rescaleStatus(jobId, triggerId), {
    what: `the rescale of job ${jobId}`,
    deadlineMs: RESCALE_DEADLINE_MS,
  });
  await write(process.stderr, `Job ${jobId} runs at parallelism ${options.parallelism}, restored from savepoint:\n`);
  await write(process.stdout, `${location}\n`);
  return 0;
}
