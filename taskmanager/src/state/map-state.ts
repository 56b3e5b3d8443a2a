import { mapKeyOf } from "@riffle/shared";
import type { MapState } from "@riffle/sdk";
import type { ResolvedTtl } from "@riffle/sdk/internal";
import type { StateCells } from "./cells.js";
import { isExpired, refreshesOnRead } from "./ttl.js";

/** A stored map entry: the user's key (returned by `keys()`), its value and, with a TTL, its stamp. */
type Entry<K, V> = [key: K, value: V, stamp?: number];

/**
 * A keyed map, stored as one JS Map per key and namespace, from {@link mapKeyOf} to the entry. One
 * value per key keeps a LevelDB read to one get; very large maps per key would be better as one
 * LevelDB entry per map entry (a later change of the leveldb backend alone).
 */
export class KeyedMapState<K, V> implements MapState<K, V> {
  constructor(
    private readonly cells: StateCells,
    private readonly id: number,
    private readonly ttl: ResolvedTtl | undefined,
  ) {}

  get(key: K): V | undefined {
    return this.entry(key)?.[1];
  }

  contains(key: K): boolean {
    return this.entry(key) !== undefined;
  }

  put(key: K, value: V): void {
    const entry: Entry<K, V> = this.ttl === undefined ? [key, value] : [key, value, this.cells.clock()];
    const map = this.cells.updateCell(this.id) as Map<string, Entry<K, V>> | undefined;
    if (map === undefined) this.cells.writeCell(this.id, new Map([[mapKeyOf(key), entry]]));
    else map.set(mapKeyOf(key), entry);
  }

  putAll(entries: Iterable<readonly [K, V]>): void {
    for (const [k, v] of entries) this.put(k, v);
  }

  remove(key: K): void {
    const id = mapKeyOf(key);
    const map = this.cells.readCell(this.id) as Map<string, Entry<K, V>> | undefined;
    if (map === undefined || !map.has(id)) return;
    this.removeId(id);
  }

  entries(): [K, V][] {
    return this.live().map(([k, v]) => [k, v]);
  }

  keys(): K[] {
    return this.live().map(([k]) => k);
  }

  values(): V[] {
    return this.live().map(([, v]) => v);
  }

  isEmpty(): boolean {
    return this.live().length === 0;
  }

  clear(): void {
    this.cells.writeCell(this.id, undefined);
  }

  private entry(key: K): Entry<K, V> | undefined {
    const id = mapKeyOf(key);
    const map = this.cells.readCell(this.id) as Map<string, Entry<K, V>> | undefined;
    const entry = map?.get(id);
    if (entry === undefined || this.ttl === undefined) return entry;
    const now = this.cells.clock();
    if (isExpired(entry[2]!, this.ttl, now)) {
      this.removeId(id);
      return undefined;
    }
    if (refreshesOnRead(this.ttl) && entry[2] !== now) (this.cells.updateCell(this.id) as Map<string, Entry<K, V>>).set(id, [entry[0], entry[1], now]);
    return entry;
  }

  /** Every live entry; expired ones are removed, and with OnReadAndWrite the rest restamped. */
  private live(): Entry<K, V>[] {
    const map = this.cells.readCell(this.id) as Map<string, Entry<K, V>> | undefined;
    if (map === undefined) return [];
    if (this.ttl === undefined) return [...map.values()];
    const now = this.cells.clock();
    const live: [string, Entry<K, V>][] = [];
    for (const [id, entry] of map) if (!isExpired(entry[2]!, this.ttl, now)) live.push([id, entry]);
    if (live.length === 0) this.cells.writeCell(this.id, undefined);
    else if (refreshesOnRead(this.ttl)) this.cells.writeCell(this.id, new Map(live.map(([id, [k, v]]) => [id, [k, v, now]])));
    else if (live.length !== map.size) this.cells.writeCell(this.id, new Map(live));
    return live.map(([, e]) => e);
  }

  private removeId(id: string): void {
    const map = this.cells.updateCell(this.id) as Map<string, Entry<K, V>>;
    map.delete(id);
    if (map.size === 0) this.cells.writeCell(this.id, undefined);
  }
}
