import { RiffleError } from "@riffle/shared";

/**
 * Which slot worker produces which partition, as the main thread learns it from deployments: a stream
 * from another slot of this TaskManager is handed to the producer's worker, and a slot of another
 * TaskManager is told which slot's data server to read from (PartitionLocation, decision 0018). A
 * request can arrive before the producer's deployment: it waits, up to a timeout, as a partition
 * request does in the producer's slot.
 */
export class PartitionDirectory<Owner> {
  private readonly owners = new Map<string, Owner>();
  private readonly waiters = new Map<string, Array<(owner: Owner) => void>>();

  register(partitionId: string, owner: Owner): void {
    this.owners.set(partitionId, owner);
    const waiting = this.waiters.get(partitionId);
    this.waiters.delete(partitionId);
    for (const w of waiting ?? []) w(owner);
  }

  /** Forgets every partition of `owner` (its worker is gone). */
  removeOwner(owner: Owner): void {
    for (const [id, o] of this.owners) if (o === owner) this.owners.delete(id);
  }

  waitFor(partitionId: string, timeoutMs: number): Promise<Owner> {
    const existing = this.owners.get(partitionId);
    if (existing !== undefined) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const onRegistered = (owner: Owner) => {
        clearTimeout(timer);
        resolve(owner);
      };
      const timer = setTimeout(() => {
        const list = this.waiters.get(partitionId);
        const i = list?.indexOf(onRegistered) ?? -1;
        if (list && i >= 0) list.splice(i, 1);
        if (list?.length === 0) this.waiters.delete(partitionId);
        reject(new RiffleError("PARTITION_NOT_FOUND", `partition ${partitionId} was not deployed on this TaskManager within ${timeoutMs} ms`));
      }, timeoutMs);
      const list = this.waiters.get(partitionId) ?? [];
      list.push(onRegistered);
      this.waiters.set(partitionId, list);
    });
  }
}
