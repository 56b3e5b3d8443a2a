import type { JobSummary } from "@riffle/shared";
import type { JobMaster } from "../scheduler/index.js";

/** The gRPC view of a job; proto3 has no null, so times not reached yet and absent failures are 0 and "". */
export function jobSummaryOf(job: JobMaster): JobSummary {
  const r = job.record;
  return {
    jobId: r.id,
    name: r.name,
    status: job.status,
    startTime: r.submittedAt,
    endTime: r.endTime ?? 0,
    failureCode: r.failure?.code ?? "",
    failureMessage: r.failure?.message ?? "",
  };
}
