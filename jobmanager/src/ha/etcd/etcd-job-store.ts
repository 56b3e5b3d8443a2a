import { createHash } from "node:crypto";
import { RiffleError, type JobGraph, type Logger } from "@riffle/shared";
import { isJobId, type JobRecord } from "../../store/index.js";
import { requireLeadership } from "../fencing.js";
import type { JobStore } from "../job-store.js";
import type { LeaderSession } from "../leader-election.js";
import type { HaStorageDir } from "../storage-dir.js";
import type { EtcdConnection } from "./etcd-connection.js";
import type { EtcdLeaderElectionDriver } from "./etcd-leader-election-driver.js";
import { JOBS_PREFIX, jobKey } from "./keys.js";
import type { KeyedSerializer } from "./serial.js";

/**
 * Records up to this size are kept whole in etcd. A larger one keeps its graph in the storage
 * directory instead (etcd refuses requests over 1.5 MiB by default, and is meant for small values).
 */
export const MAX_INLINE_RECORD_BYTES = 256 * 1024;

/** The value of `jobs/<id>`: the record, its graph inline or in a file of the storage directory. */
interface StoredJob {
  record: Omit<JobRecord, "graph"> & { graph?: JobGraph };
  /** Relative to the storage directory: `job-graphs/<job id>/<sha-256 of the graph>.json`. */
  graphFile?: string;
}

/** Job records in etcd (`jobs/<job id>`), written under the leader's fence. */
export class EtcdJobStore implements JobStore {
  constructor(
    private readonly conn: EtcdConnection,
    private readonly driver: EtcdLeaderElectionDriver,
    private readonly session: LeaderSession,
    private readonly serial: KeyedSerializer,
    private readonly storage: HaStorageDir,
    private readonly logger: Logger,
  ) {}

  put(record: JobRecord): Promise<void> {
    checkJobId(record.id);
    return this.serial.run(jobKey(record.id), async () => {
      let value = JSON.stringify({ record } satisfies StoredJob);
      let graphFile: string | undefined;
      if (Buffer.byteLength(value) > MAX_INLINE_RECORD_BYTES) {
        const { graph, ...rest } = record;
        const graphJson = JSON.stringify(graph);
        graphFile = `job-graphs/${record.id}/${createHash("sha256").update(graphJson).digest("hex")}.json`;
        requireLeadership(this.session, `write the graph of job ${record.id}`);
        await this.storage.write(graphFile, graphJson);
        value = JSON.stringify({ record: rest, graphFile } satisfies StoredJob);
      }
      await this.driver.fencedTxn(this.session, `write the record of job ${record.id}`, { ops: [this.conn.ns.put(jobKey(record.id)).value(value)] });
      await this.removeGraphFilesBut(record.id, graphFile);
    });
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    checkJobId(jobId);
    const res = await this.conn.call(`read the record of job ${jobId}`, (options) => this.conn.ns.get(jobKey(jobId)).options(options).exec());
    const kv = res.kvs[0];
    return kv ? this.parse(jobId, kv.value.toString()) : undefined;
  }

  async list(): Promise<JobRecord[]> {
    const res = await this.conn.call("list the job records", (options) => this.conn.ns.getAll().prefix(JOBS_PREFIX).options(options).exec());
    const records: JobRecord[] = [];
    for (const kv of res.kvs) {
      const jobId = kv.key.toString().slice(JOBS_PREFIX.length);
      try {
        records.push(await this.parse(jobId, kv.value.toString()));
      } catch (err) {
        this.logger.warn({ jobId, err: (err as Error).message }, "skipping unreadable job record");
      }
    }
    return records.sort((a, b) => a.submittedAt - b.submittedAt);
  }

  remove(jobId: string): Promise<void> {
    checkJobId(jobId);
    return this.serial.run(jobKey(jobId), async () => {
      await this.driver.fencedTxn(this.session, `remove the record of job ${jobId}`, { ops: [this.conn.ns.delete().key(jobKey(jobId))] });
      await this.storage
        .remove(`job-graphs/${jobId}`)
        .catch((err: Error) => this.logger.warn({ jobId, err: err.message }, "could not remove the job's graph files"));
    });
  }

  private async parse(jobId: string, text: string): Promise<JobRecord> {
    let stored: StoredJob;
    try {
      stored = JSON.parse(text) as StoredJob;
    } catch (err) {
      throw new RiffleError("HA_STORAGE_FAILED", `the record of job ${jobId} in etcd is not JSON: ${(err as Error).message}`);
    }
    const record = stored?.record;
    if (!record || record.id !== jobId || typeof record.status !== "string") {
      throw new RiffleError("HA_STORAGE_FAILED", `the value of ${jobKey(jobId)} in etcd is not a job record`);
    }
    if (stored.graphFile !== undefined) record.graph = JSON.parse(await this.storage.read(stored.graphFile)) as JobGraph;
    if (record.graph === undefined) throw new RiffleError("HA_STORAGE_FAILED", `the record of job ${jobId} has no graph`);
    return record as JobRecord;
  }

  /**
   * Graph files of the job other than `keep`: written by earlier versions of the record, or by a put
   * that etcd then refused. Only while this leadership holds, checked after the listing and before
   * each removal: a leader deposed meanwhile could otherwise delete the graph file of the record its
   * successor wrote (a file listed after the successor wrote it was listed after this leadership
   * ended here, since it ends here before etcd can elect anyone else).
   */
  private async removeGraphFilesBut(jobId: string, keep: string | undefined): Promise<void> {
    try {
      const dir = `job-graphs/${jobId}`;
      for (const file of await this.storage.list(dir)) {
        if (`${dir}/${file}` === keep) continue;
        requireLeadership(this.session, `remove an old graph file of job ${jobId}`);
        await this.storage.remove(`${dir}/${file}`);
      }
    } catch (err) {
      this.logger.warn({ jobId, err: (err as Error).message }, "could not remove an old job graph file");
    }
  }
}

export function checkJobId(jobId: string): void {
  if (!isJobId(jobId)) throw new RiffleError("INTERNAL", `"${jobId}" is not a job id (32 hex characters)`);
}
