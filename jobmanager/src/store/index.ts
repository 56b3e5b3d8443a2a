/** Persistence of the JobManager: job records and job bundles in the storage directory. */
export { JobStore, isJobId } from "./job-store.js";
export { BundleStore } from "./bundle-store.js";
export { JOB_STATUSES, type JobStatus, type JobRecord, type JobFailure } from "./job-record.js";
