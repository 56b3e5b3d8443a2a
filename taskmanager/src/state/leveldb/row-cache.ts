/** A cell known to have no value (in the database either): reads of absent keys hit the cache too. */
export const ABSENT: unique symbol = Symbol("absent");

/**
 * Writes being gathered for one LevelDB batch, keys and values as db-keys.ts lays them out: a
 * classic-level chained batch, which takes each operation straight into the native batch (about
 * half the main-thread time per operation of an array of operation objects).
 */
export interface WriteBatch {
  put(key: string, value: string): unknown;
  del(key: string): unknown;
  readonly length: number;
  /** Writes the operations (only closes the batch when there are none). */
  write(): Promise<void>;
  close(): Promise<void>;
}

/** Encoded writes of a snapshot's captured rows, waiting for their batch (replaced by a new one as each is written). */
export interface FrozenWrite {
  batch: WriteBatch;
}

/** One (key, namespace) in the leveldb backend's write-back cache. */
export interface CachedRow {
  readonly key: string;
  readonly namespace: string;
  readonly keyGroup: number;
  /** Per state id: the value, ABSENT, or `undefined` when not read from the database yet. */
  readonly cells: unknown[];
  /** Ids of the cells changed since they were last written to the database. */
  dirty: number[] | undefined;
  /** Writes of this row in flight: until they land, the database may hold an older value, so the row stays. */
  inflight: number;
  /**
   * Set while a snapshot has captured this row's dirty cells (`frozenIds`) but not encoded them yet:
   * the row is encoded into it before it is next touched.
   */
  frozen: FrozenWrite | undefined;
  frozenIds: number[] | undefined;
  /** Second-chance bit of the CLOCK eviction. */
  used: boolean;
  /** keySuffix(key, namespace), built on the first database access. */
  suffix: string | undefined;
  /** Index in the cache's slot array. */
  slot: number;
}

function spacedKey(key: string, namespace: string): string {
  return `${key.length}:${key}${namespace}`;
}

/**
 * The rows of the cache: two Maps to find them (the default namespace keyed by the key's text alone,
 * others by a length-prefixed (key, namespace) string) and a slot array a CLOCK hand sweeps to pick
 * victims: a row is evictable when clean, not being written and not used since the hand last passed
 * (LRU-like at the cost of one flag per access). A new row takes its victim's slot, so it gets a full
 * turn of the hand before it can be evicted.
 */
export class RowCache {
  private readonly main = new Map<string, CachedRow>();
  private readonly spaced = new Map<string, CachedRow>();
  private readonly slots: (CachedRow | undefined)[] = [];
  private readonly holes: number[] = [];
  private hand = 0;

  get size(): number {
    return this.main.size + this.spaced.size;
  }

  get(key: string, namespace: string): CachedRow | undefined {
    return namespace === "" ? this.main.get(key) : this.spaced.get(spacedKey(key, namespace));
  }

  /** Adds a row; with `evict`, in the slot of an evictable row, which leaves. False if none was found in one turn (the row is added anyway). */
  insert(row: CachedRow, evict: boolean): boolean {
    if (row.namespace === "") this.main.set(row.key, row);
    else this.spaced.set(spacedKey(row.key, row.namespace), row);
    const victim = evict ? this.findVictim() : -1;
    if (victim >= 0) {
      this.forget(this.slots[victim]!);
      this.slots[victim] = row;
      row.slot = victim;
      return true;
    }
    const hole = this.holes.pop();
    if (hole !== undefined) {
      this.slots[hole] = row;
      row.slot = hole;
    } else {
      row.slot = this.slots.length;
      this.slots.push(row);
    }
    return !evict;
  }

  /** Evicts evictable rows until `size` is at most `target` or a turn finds none; returns how many left. */
  shrink(target: number): number {
    let evicted = 0;
    while (this.size > target) {
      const victim = this.findVictim();
      if (victim < 0) break;
      this.forget(this.slots[victim]!);
      this.slots[victim] = undefined;
      this.holes.push(victim);
      evicted++;
    }
    return evicted;
  }

  clear(): void {
    this.main.clear();
    this.spaced.clear();
    this.slots.length = 0;
    this.holes.length = 0;
    this.hand = 0;
  }

  /** The slot of an evictable row, moving the hand past it; -1 after two turns without one (the first may only clear used flags). */
  private findVictim(): number {
    const n = this.slots.length;
    for (let visited = 0; visited < 2 * n; visited++) {
      if (this.hand >= n) this.hand = 0;
      const i = this.hand++;
      const row = this.slots[i];
      if (row === undefined || row.dirty !== undefined || row.inflight > 0) continue;
      if (row.used) {
        row.used = false;
        continue;
      }
      return i;
    }
    return -1;
  }

  private forget(row: CachedRow): void {
    if (row.namespace === "") this.main.delete(row.key);
    else this.spaced.delete(spacedKey(row.key, row.namespace));
  }
}
