import { formatDuration, formatTime, table, write } from "../output.js";
import type { GlobalOptions } from "../options.js";
import { TERMINAL_STATUSES, type JobSummary } from "../rest-client.js";
import { clientFor } from "./client.js";

/** `riffle list`: the cluster's jobs, running ones first, newest first. */
export async function listCommand(globals: GlobalOptions, options: { jobmanager?: string }): Promise<number> {
  const { jobs } = await clientFor(globals, options.jobmanager).listJobs();
  if (jobs.length === 0) {
    await write(process.stdout, "No jobs.\n");
    return 0;
  }
  const now = Date.now();
  const sorted = [...jobs].sort(
    (a, b) => Number(TERMINAL_STATUSES.has(a.status)) - Number(TERMINAL_STATUSES.has(b.status)) || (b.startTime ?? 0) - (a.startTime ?? 0),
  );
  const rows = sorted.map((j) => [j.id, j.name, j.status, formatTime(j.startTime), formatDuration(durationOf(j, now))]);
  await write(
    process.stdout,
    table([{ header: "ID" }, { header: "NAME" }, { header: "STATUS" }, { header: "START TIME" }, { header: "DURATION", right: true }], rows),
  );
  return 0;
}

/** The job's duration, counting a running job up to now when the JobManager reports none. */
export function durationOf(job: Pick<JobSummary, "startTime" | "endTime" | "duration" | "status">, now: number): number | undefined {
  if (typeof job.duration === "number" && job.duration >= 0) return job.duration;
  if (typeof job.startTime === "number" && job.startTime > 0) {
    const end = typeof job.endTime === "number" && job.endTime > 0 ? job.endTime : now;
    return Math.max(0, end - job.startTime);
  }
  return undefined;
}
