import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "@riffle/shared";
import type { JobRecord } from "./job-record.js";

const JOB_ID = /^[0-9a-f]{32}$/;

/** Whether `id` is a job id (32 hex characters, as Flink's): nothing else names a record. */
export function isJobId(id: string): boolean {
  return JOB_ID.test(id);
}

/**
 * Job records as one JSON file per job. Writes are synchronous and atomic (temporary file, then
 * rename): a record is small, status changes are rare, and a crash never leaves half a record.
 */
export class JobStore {
  constructor(
    readonly dir: string,
    private readonly logger: Logger,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  save(record: JobRecord): void {
    const path = join(this.dir, `${record.id}.json`);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(record));
    renameSync(tmp, path);
  }

  /** The job's record; undefined when there is none, or it is unreadable (logged). */
  load(jobId: string): JobRecord | undefined {
    if (!JOB_ID.test(jobId)) return undefined;
    try {
      return this.read(`${jobId}.json`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") this.logger.warn({ jobId, err: (err as Error).message }, "skipping unreadable job record");
      return undefined;
    }
  }

  /** Deletes the job's record, if it has one. */
  remove(jobId: string): void {
    if (JOB_ID.test(jobId)) rmSync(join(this.dir, `${jobId}.json`), { force: true });
  }

  /** Every readable record, oldest submission first; unreadable files are logged and skipped. */
  loadAll(): JobRecord[] {
    const records: JobRecord[] = [];
    for (const file of readdirSync(this.dir)) {
      if (!file.endsWith(".json") || !JOB_ID.test(file.slice(0, -5))) continue;
      try {
        records.push(this.read(file));
      } catch (err) {
        this.logger.warn({ file, err: (err as Error).message }, "skipping unreadable job record");
      }
    }
    return records.sort((a, b) => a.submittedAt - b.submittedAt);
  }

  private read(file: string): JobRecord {
    const record = JSON.parse(readFileSync(join(this.dir, file), "utf8")) as JobRecord;
    if (record.id !== file.slice(0, -5) || typeof record.status !== "string" || record.graph === undefined) {
      throw new Error("not a job record");
    }
    return record;
  }
}
