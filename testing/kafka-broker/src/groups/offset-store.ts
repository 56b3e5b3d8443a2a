import { join } from "node:path";
import { Journal } from "../log/journal.js";

export interface CommittedOffset {
  offset: number;
  metadata: string | null;
}

export interface OffsetCommit {
  topic: string;
  partition: number;
  offset: number;
  metadata: string | null;
}

type OffsetRecord = { group: string; topic: string; partition: number; offset: number; metadata: string | null };

/**
 * Committed offsets per consumer group (Kafka's `__consumer_offsets`), journaled in `offsets.jsonl`
 * and synced before a commit is acknowledged, so they survive a restart. Offsets of a transaction
 * (TxnOffsetCommit) arrive here only when it commits.
 */
export class OffsetStore {
  private readonly groups = new Map<string, Map<string, CommittedOffset & { topic: string; partition: number }>>();

  private constructor(private readonly journal: Journal<OffsetRecord>) {}

  static open(dataDir: string, fsync: boolean): OffsetStore {
    const { journal, records } = Journal.open<OffsetRecord>(join(dataDir, "offsets.jsonl"), fsync, latestPerPartition);
    const store = new OffsetStore(journal);
    for (const r of records) store.apply(r);
    return store;
  }

  private apply(r: OffsetRecord): void {
    let offsets = this.groups.get(r.group);
    if (!offsets) this.groups.set(r.group, (offsets = new Map()));
    offsets.set(`${r.topic}\0${r.partition}`, { topic: r.topic, partition: r.partition, offset: r.offset, metadata: r.metadata });
  }

  /** Stores the offsets; resolves once they are durable. */
  async commit(group: string, commits: OffsetCommit[]): Promise<void> {
    const durable: Promise<void>[] = [];
    for (const c of commits) {
      const record: OffsetRecord = { group, ...c };
      this.apply(record);
      durable.push(this.journal.append(record));
    }
    await Promise.all(durable);
  }

  get(group: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.groups.get(group)?.get(`${topic}\0${partition}`);
  }

  /** Every committed offset of the group. */
  all(group: string): Array<CommittedOffset & { topic: string; partition: number }> {
    return [...(this.groups.get(group)?.values() ?? [])];
  }

  close(): Promise<void> {
    return this.journal.close();
  }
}

function latestPerPartition(records: OffsetRecord[]): OffsetRecord[] {
  const latest = new Map<string, OffsetRecord>();
  for (const r of records) latest.set(`${r.group}\0${r.topic}\0${r.partition}`, r);
  return [...latest.values()];
}
