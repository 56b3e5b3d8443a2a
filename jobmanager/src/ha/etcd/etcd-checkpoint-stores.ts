import { RiffleError, type Logger } from "@riffle/shared";
import { checkCount, retainNewest, type CheckpointIdCounter, type CheckpointPointer, type CompletedCheckpointStore } from "../checkpoint-stores.js";
import { requireLeadership } from "../fencing.js";
import type { LeaderSession } from "../leader-election.js";
import type { EtcdConnection } from "./etcd-connection.js";
import type { EtcdLeaderElectionDriver } from "./etcd-leader-election-driver.js";
import { checkpointCounterKey, completedCheckpointKey, completedCheckpointsPrefix } from "./keys.js";
import type { KeyedSerializer } from "./serial.js";

/** Attempts of a compare-and-set before giving up: only a retried write of our own can make one fail. */
const CAS_ATTEMPTS = 5;

/**
 * A job's checkpoint id counter in etcd (`checkpoints/<job id>/counter`): read, then a fenced
 * compare-and-set on the value's revision. A write applied twice by a retry costs one id, never a
 * repeated one.
 */
export class EtcdCheckpointIdCounter implements CheckpointIdCounter {
  private readonly key: string;

  constructor(
    private readonly conn: EtcdConnection,
    private readonly driver: EtcdLeaderElectionDriver,
    private readonly session: LeaderSession,
    private readonly serial: KeyedSerializer,
    private readonly jobId: string,
  ) {
    this.key = checkpointCounterKey(jobId);
  }

  async get(): Promise<number> {
    return (await this.read()).next;
  }

  getAndIncrement(): Promise<number> {
    return this.serial.run(this.key, async () => {
      requireLeadership(this.session, `take a checkpoint id of job ${this.jobId}`);
      for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        const { next, modRevision } = await this.read();
        const res = await this.driver.fencedTxn(this.session, `take checkpoint id ${next} of job ${this.jobId}`, {
          compares: [modRevision === null ? [this.key, "Create", "==", 0] : [this.key, "Mod", "==", modRevision]],
          ops: [this.conn.ns.put(this.key).value(String(next + 1))],
        });
        if (res.succeeded) return next;
      }
      throw new RiffleError("HA_STORAGE_FAILED", `the checkpoint id counter of job ${this.jobId} changed under each of ${CAS_ATTEMPTS} attempts to take an id`);
    });
  }

  setCount(next: number): Promise<void> {
    checkCount(next);
    return this.serial.run(this.key, async () => {
      await this.driver.fencedTxn(this.session, `set the checkpoint id counter of job ${this.jobId} to ${next}`, {
        ops: [this.conn.ns.put(this.key).value(String(next))],
      });
    });
  }

  discard(): Promise<void> {
    return this.serial.run(this.key, async () => {
      await this.driver.fencedTxn(this.session, `discard the checkpoint id counter of job ${this.jobId}`, { ops: [this.conn.ns.delete().key(this.key)] });
    });
  }

  private async read(): Promise<{ next: number; modRevision: string | null }> {
    const res = await this.conn.call(`read the checkpoint id counter of job ${this.jobId}`, (options) => this.conn.ns.get(this.key).options(options).exec());
    const kv = res.kvs[0];
    if (!kv) return { next: 1, modRevision: null };
    const next = Number(kv.value.toString());
    if (!Number.isSafeInteger(next) || next < 1) {
      throw new RiffleError("HA_STORAGE_FAILED", `the checkpoint id counter of job ${this.jobId} in etcd holds "${kv.value.toString()}", not a checkpoint id`);
    }
    return { next, modRevision: kv.mod_revision };
  }
}

/**
 * Pointers to a job's retained checkpoints in etcd (`checkpoints/<job id>/completed/<id>`). Adding
 * one and dropping those beyond the retention is one fenced transaction: either the new checkpoint
 * counts as completed and the old ones are released together, or nothing changed.
 */
export class EtcdCompletedCheckpointStore implements CompletedCheckpointStore {
  private readonly prefix: string;

  constructor(
    private readonly conn: EtcdConnection,
    private readonly driver: EtcdLeaderElectionDriver,
    private readonly session: LeaderSession,
    private readonly serial: KeyedSerializer,
    private readonly jobId: string,
    private readonly logger: Logger,
  ) {
    this.prefix = completedCheckpointsPrefix(jobId);
  }

  add(pointer: CheckpointPointer, maxRetained: number): Promise<CheckpointPointer[]> {
    return this.serial.run(this.prefix, async () => {
      requireLeadership(this.session, `record checkpoint ${pointer.id} of job ${this.jobId}`);
      const { dropped } = retainNewest(await this.getAll(), pointer, maxRetained);
      const ns = this.conn.ns;
      const addsItself = !dropped.some((p) => p.id === pointer.id);
      await this.driver.fencedTxn(this.session, `record checkpoint ${pointer.id} of job ${this.jobId}`, {
        ops: [
          ...(addsItself ? [ns.put(completedCheckpointKey(this.jobId, pointer.id)).value(JSON.stringify(pointer))] : []),
          ...dropped.filter((p) => p.id !== pointer.id).map((p) => ns.delete().key(completedCheckpointKey(this.jobId, p.id))),
        ],
      });
      return dropped;
    });
  }

  async getAll(): Promise<CheckpointPointer[]> {
    const res = await this.conn.call(`read the checkpoints of job ${this.jobId}`, (options) =>
      this.conn.ns.getAll().prefix(this.prefix).sort("Key", "Ascend").options(options).exec(),
    );
    return res.kvs.flatMap((kv) => this.parse(kv.key.toString(), kv.value.toString()) ?? []);
  }

  async getLatest(): Promise<CheckpointPointer | undefined> {
    const all = await this.getAll();
    return all[all.length - 1];
  }

  discard(): Promise<void> {
    return this.serial.run(this.prefix, async () => {
      await this.driver.fencedTxn(this.session, `discard the checkpoint pointers of job ${this.jobId}`, {
        ops: [this.conn.ns.delete().prefix(this.prefix)],
      });
    });
  }

  private parse(key: string, text: string): CheckpointPointer | undefined {
    try {
      const p = JSON.parse(text) as CheckpointPointer;
      if (!Number.isSafeInteger(p.id) || typeof p.path !== "string" || typeof p.timestamp !== "number") throw new Error("not a checkpoint pointer");
      return p;
    } catch (err) {
      this.logger.warn({ jobId: this.jobId, key, err: (err as Error).message }, "skipping an unreadable checkpoint pointer");
      return undefined;
    }
  }
}
