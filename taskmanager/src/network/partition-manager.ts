import { RiffleError } from "@riffle/shared";
import type { ResultPartition } from "./result-partition.js";

/**
 * The TaskManager's registry of produced partitions. Consumers are deployed at the same time as
 * producers, so a request can arrive before its partition exists: it waits (up to a timeout) for the
 * producer to register it.
 */
export class PartitionManager {
  private readonly partitions = new Map<string, ResultPartition>();
  /** Job of each registered partition: a job that ends or restarts releases all of them here. */
  private readonly jobOf = new Map<string, string>();
  private readonly waiters = new Map<string, Array<(p: ResultPartition) => void>>();

  register(partition: ResultPartition, jobId: string): void {
    if (this.partitions.has(partition.id)) throw new RiffleError("INTERNAL", `partition ${partition.id} is already registered`);
    this.partitions.set(partition.id, partition);
    this.jobOf.set(partition.id, jobId);
    const waiting = this.waiters.get(partition.id);
    this.waiters.delete(partition.id);
    for (const w of waiting ?? []) w(partition);
  }

  get(id: string): ResultPartition | undefined {
    return this.partitions.get(id);
  }

  waitFor(id: string, timeoutMs: number): Promise<ResultPartition> {
    const existing = this.partitions.get(id);
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const onRegistered = (p: ResultPartition) => {
        clearTimeout(timer);
        resolve(p);
      };
      const timer = setTimeout(() => {
        const list = this.waiters.get(id);
        if (list) {
          const i = list.indexOf(onRegistered);
          if (i >= 0) list.splice(i, 1);
          if (list.length === 0) this.waiters.delete(id);
        }
        reject(new RiffleError("PARTITION_NOT_FOUND", `partition ${id} was not produced on this TaskManager within ${timeoutMs} ms`));
      }, timeoutMs);
      const list = this.waiters.get(id) ?? [];
      list.push(onRegistered);
      this.waiters.set(id, list);
    });
  }

  /** Removes a partition; with an error, its readers learn that the producer is gone. */
  release(id: string, error?: RiffleError): void {
    const p = this.partitions.get(id);
    if (!p) return;
    this.partitions.delete(id);
    this.jobOf.delete(id);
    if (error) p.release(error);
  }

  /**
   * Releases every partition of a job, including those of producers that already finished: when the
   * job fails, restarts or is cancelled, their consumers will never read them, and their buffers must
   * return to the pool.
   */
  releaseJob(jobId: string, error: RiffleError): void {
    for (const [id, job] of this.jobOf) if (job === jobId) this.release(id, error);
  }
}
