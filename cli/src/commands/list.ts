import { formatDuration, formatTime, table, write } from "../output.js";
import type { GlobalOptions } from "../options.js";
import { TERMINAL_STATUSES, type JobOverview } from "../rest-client.js";
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
    (a, b) => Number(TERMINAL_STATUSES.has(a.state)) - Number(TERMINAL_STATUSES.has(b.state)) || (b["start-time"] ?? 0) - (a["start-time"] ?? 0),
  );
  const rows = sorted.map((j) => [j.jid, j.name, j.state, formatTime(j["start-time"]), formatDuration(durationOf(j, now))]);
  await write(
    process.stdout,
    table([{ header: "ID" }, { header: "NAME" }, { header: "STATUS" }, { header: "START TIME" }, { header: "DURATION", right: true }], rows),
  );
  return 0;
}

/** The job's duration, counting a running job up to now when the JobManager reports none. */
export function durationOf(job: Pick<JobOverview, "start-time" | "end-time" | "duration">, now: number): number | undefined {
  if (typeof job.duration === "number" && job.duration >= 0) return job.duration;
  const start = job["start-time"];
  if (typeof start === "number" && start > 0) {
    const end = typeof job["end-time"] === "number" && job["end-time"] > 0 ? job["end-time"] : now;
    return Math.max(0, end - start);
  }
  return undefined;
}
