import { formatCount, formatDuration, formatTime, table, write } from "../output.js";
import type { GlobalOptions } from "../options.js";
import { clientFor } from "./client.js";
import { durationOf } from "./list.js";

/** `riffle info <jobId>`: status, failure and one line per vertex with its throughput and load. */
export async function infoCommand(globals: GlobalOptions, jobId: string, options: { jobmanager?: string }): Promise<number> {
  const job = await clientFor(globals, options.jobmanager).job(jobId);
  const lines = [
    `Job ${job.jid} (${job.name}): ${job.state}`,
    `Started ${formatTime(job["start-time"])}, duration ${formatDuration(durationOf(job, Date.now()))}, max parallelism ${job.maxParallelism ?? "-"}`,
  ];
  if (job.failure) lines.push(`Failure: error[${job.failure.code}]: ${job.failure.message}`);
  let out = `${lines.join("\n")}\n`;
  const vertices = job.vertices ?? [];
  if (vertices.length > 0) {
    const ms = (n: number | undefined) => (typeof n === "number" && Number.isFinite(n) ? String(Math.round(n)) : "-");
    out += `\n${table(
      [
        { header: "VERTEX" },
        { header: "PARALLELISM", right: true },
        { header: "STATUS" },
        { header: "RECORDS IN", right: true },
        { header: "RECORDS OUT", right: true },
        { header: "BUSY ms/s", right: true },
        { header: "BACKPRESSURED ms/s", right: true },
      ],
      vertices.map((v) => [
        v.name,
        String(v.parallelism),
        v.status,
        formatCount(v.metrics?.["read-records"]),
        formatCount(v.metrics?.["write-records"]),
        ms(v.metrics?.busyTimeMsPerSecond),
        ms(v.metrics?.backPressuredTimeMsPerSecond),
      ]),
    )}`;
  }
  await write(process.stdout, out);
  return 0;
}
