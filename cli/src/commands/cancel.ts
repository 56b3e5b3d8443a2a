import { RiffleError } from "@riffle/shared";
import { write } from "../output.js";
import type { GlobalOptions } from "../options.js";
import { TERMINAL_STATUSES, type JobDetails } from "../rest-client.js";
import { clientFor } from "./client.js";

/** How long `riffle cancel` waits for the job to reach a terminal status. */
const CANCEL_DEADLINE_MS = 60_000;
const POLL_INTERVAL_MS = 250;

/** `riffle cancel <jobId>`: requests cancellation and waits (up to 60 s) until the job has stopped. */
export async function cancelCommand(globals: GlobalOptions, jobId: string, options: { jobmanager?: string }): Promise<number> {
  const client = clientFor(globals, options.jobmanager);
  await client.cancelJob(jobId);
  await write(process.stderr, `Cancelling job ${jobId}...\n`);
  const deadline = Date.now() + CANCEL_DEADLINE_MS;
  let job: JobDetails;
  for (;;) {
    job = await client.job(jobId);
    if (TERMINAL_STATUSES.has(job.state)) break;
    const left = deadline - Date.now();
    if (left <= 0) throw new RiffleError("TIMEOUT", `job ${jobId} is still ${job.state} ${CANCEL_DEADLINE_MS / 1000} s after it was asked to cancel`);
    await new Promise((r) => setTimeout(r, Math.min(POLL_INTERVAL_MS, left)));
  }
  await write(process.stdout, `Job ${jobId} ${job.state}\n`);
  return 0;
}
