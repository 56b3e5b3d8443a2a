import { RiffleError, type Logger } from "@riffle/shared";
import type { JobResult, JobResultEntry, JobResultStore } from "../job-result-store.js";
import { requireLeadership } from "../fencing.js";
import type { LeaderSession } from "../leader-election.js";
import type { EtcdConnection } from "./etcd-connection.js";
import type { EtcdLeaderElectionDriver } from "./etcd-leader-election-driver.js";
import { checkJobId } from "./etcd-job-store.js";
import { JOB_RESULTS_PREFIX, jobResultKey } from "./keys.js";
import type { KeyedSerializer } from "./serial.js";

const TERMINAL = new Set(["FINISHED", "FAILED", "CANCELED"]);

/** Job results in etcd (`job-results/<job id>`), written under the leader's fence. */
export class EtcdJobResultStore implements JobResultStore {
  constructor(
    private readonly conn: EtcdConnection,
    private readonly driver: EtcdLeaderElectionDriver,
    private readonly session: LeaderSession,
    private readonly serial: KeyedSerializer,
    private readonly logger: Logger,
  ) {}

  createDirtyResult(result: JobResult): Promise<void> {
    checkJobId(result.jobId);
    return this.write({ ...result, clean: false }, `record the result of job ${result.jobId}`);
  }

  markResultAsClean(jobId: string): Promise<void> {
    checkJobId(jobId);
    return this.serial.run(jobResultKey(jobId), async () => {
      requireLeadership(this.session, `mark the result of job ${jobId} clean`);
      const entry = await this.get(jobId);
      if (!entry) throw new RiffleError("HA_STORAGE_FAILED", `job ${jobId} has no result to mark clean`);
      await this.put({ ...entry, clean: true }, `mark the result of job ${jobId} clean`);
    });
  }

  async get(jobId: string): Promise<JobResultEntry | undefined> {
    checkJobId(jobId);
    const res = await this.conn.call(`read the result of job ${jobId}`, (options) => this.conn.ns.get(jobResultKey(jobId)).options(options).exec());
    const kv = res.kvs[0];
    return kv ? this.parse(jobId, kv.value.toString()) : undefined;
  }

  async hasJobResultEntry(jobId: string): Promise<boolean> {
    return (await this.get(jobId)) !== undefined;
  }

  async getDirtyResults(): Promise<JobResult[]> {
    const res = await this.conn.call("list the job results", (options) => this.conn.ns.getAll().prefix(JOB_RESULTS_PREFIX).options(options).exec());
    const dirty: JobResult[] = [];
    for (const kv of res.kvs) {
      const jobId = kv.key.toString().slice(JOB_RESULTS_PREFIX.length);
      try {
        const { clean, ...result } = this.parse(jobId, kv.value.toString());
        if (!clean) dirty.push(result);
      } catch (err) {
        this.logger.warn({ jobId, err: (err as Error).message }, "skipping an unreadable job result");
      }
    }
    return dirty;
  }

  async list(): Promise<JobResultEntry[]> {
    const res = await this.conn.call("list the job results", (options) => this.conn.ns.getAll().prefix(JOB_RESULTS_PREFIX).options(options).exec());
    return res.kvs.map((kv) => this.parse(kv.key.toString().slice(JOB_RESULTS_PREFIX.length), kv.value.toString()));
  }

  private write(entry: JobResultEntry, what: string): Promise<void> {
    return this.serial.run(jobResultKey(entry.jobId), () => this.put(entry, what));
  }

  private async put(entry: JobResultEntry, what: string): Promise<void> {
    await this.driver.fencedTxn(this.session, what, { ops: [this.conn.ns.put(jobResultKey(entry.jobId)).value(JSON.stringify(entry))] });
  }

  /** HA_STORAGE_FAILED for a value that is not a result: a job must not be rerun because its result is unreadable. */
  private parse(jobId: string, text: string): JobResultEntry {
    let e: JobResultEntry;
    try {
      e = JSON.parse(text) as JobResultEntry;
    } catch (err) {
      throw new RiffleError("HA_STORAGE_FAILED", `the result of job ${jobId} in etcd is not JSON: ${(err as Error).message}`);
    }
    if (e?.jobId !== jobId || !TERMINAL.has(e.status) || typeof e.endTime !== "number" || typeof e.clean !== "boolean") {
      throw new RiffleError("HA_STORAGE_FAILED", `the value of ${jobResultKey(jobId)} in etcd is not a job result`);
    }
    return e;
  }
}
