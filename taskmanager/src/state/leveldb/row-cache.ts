/** A cell known to have no value (in the database either): reads of absent keys hit the cache too. */
export const ABSENT: unique symbol = Symbol("absent");

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
  /** Second-chance bit of the CLOCK eviction. */
  used: boolean;
  /** keySuffix(key, namespace), built on the first database access. */
  suffix: Buffer | undefined;
}

function spacedKey(key: string, namespace: string): string {
  return `${key.length}:${key}${namespace}`;
}

/**
 * The rows of the cache, in two Maps: the default namespace keyed by the key's text alone, others by
 * a length-prefixed (key, namespace) string. Map order is the CLOCK's hand: a sweep starts at the
 * oldest row and moves rows it keeps to the end.
 */
export class RowCache {
  private readonly main = new Map<string, CachedRow>();
  private readonly spaced = new Map<string, CachedRow>();

  get size(): number {
    return this.main.size + this.spaced.size;
  }

  get(key: string, namespace: string): CachedRow | undefined {
    return namespace === "" ? this.main.get(key) : this.spaced.get(spacedKey(key, namespace));
  }

  insert(row: CachedRow): void {
    if (row.namespace === "") this.main.set(row.key, row);
    else this.spaced.set(spacedKey(row.key, row.namespace), row);
  }

  /**
   * Evicts up to `count` rows that are clean, not being written and not used since the hand last
   * passed (LRU-like at the cost of one flag per access). Looks at most twice at each row.
   */
  evict(count: number): number {
    let evicted = this.sweep(this.spaced, count);
    if (evicted < count) evicted += this.sweep(this.main, count - evicted);
    return evicted;
  }

  clear(): void {
    this.main.clear();
    this.spaced.clear();
  }

  private sweep(map: Map<string, CachedRow>, count: number): number {
    let evicted = 0;
    let budget = 2 * map.size;
    for (const [k, row] of map) {
      if (evicted >= count || budget-- <= 0) break;
      map.delete(k);
      if (row.dirty !== undefined || row.inflight > 0 || row.used) {
        row.used = false;
        map.set(k, row);
      } else {
        evicted++;
      }
    }
    return evicted;
  }
}
