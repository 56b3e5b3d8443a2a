import { RiffleError } from "@riffle/shared";
import type { JobRecord, JobStore as JobRecordFiles } from "../../store/index.js";
import { requireLeadership } from "../fencing.js";
import type { JobStore } from "../job-store.js";
import type { LeaderSession } from "../leader-election.js";

/**
 * The job store of a JobManager without high availability: today's `<jobmanager.storage.dir>/jobs/<id>.json`
 * files (store/JobStore), behind the asynchronous interface. Writes stay synchronous underneath, so
 * a job's writes keep their order.
 */
export class FileJobStore implements JobStore {
  constructor(
    private readonly files: JobRecordFiles,
    private readonly session: LeaderSession,
  ) {}

  async put(record: JobRecord): Promise<void> {
    requireLeadership(this.session, `write the record of job ${record.id}`);
    try {
      this.files.save(record);
    } catch (err) {
      throw storageFailed(`cannot write the record of job ${record.id} to ${this.files.dir}`, err);
    }
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    return this.files.load(jobId);
  }

  async list(): Promise<JobRecord[]> {
    try {
      return this.files.loadAll();
    } catch (err) {
      throw storageFailed(`cannot list the job records in ${this.files.dir}`, err);
    }
  }

  async remove(jobId: string): Promise<void> {
    requireLeadership(this.session, `remove the record of job ${jobId}`);
    try {
      this.files.remove(jobId);
    } catch (err) {
      throw storageFailed(`cannot remove the record of job ${jobId} from ${this.files.dir}`, err);
    }
  }
}

function storageFailed(what: string, err: unknown): RiffleError {
  return new RiffleError("HA_STORAGE_FAILED", `${what}: ${(err as Error).message}; check that jobmanager.storage.dir is writable and has free space`, {
    cause: err,
  });
}
