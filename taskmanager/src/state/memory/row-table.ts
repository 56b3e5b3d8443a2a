import type { Row } from "./pending-snapshot.js";

/** Slots at first; the table doubles when more than half are taken. */
const INITIAL_CAPACITY = 16;

/**
 * The memory backend's rows of the default namespace by key text, in a hash table of its own
 * (open addressing, linear probing) over the key's murmur3 hash, which the backend computes anyway
 * for the key group.
 *
 * Why not a Map: keys arrive as strings decoded fresh from the network for every record, and a Map
 * lookup with a fresh string has V8 hash the string in a runtime call and then compare it with the
 * stored key through a generic string comparison: measured ~50 ns per lookup over 10k keys, against
 * ~30 ns here, hash included. The hash is the key's murmur3 (the one key groups use), so it costs
 * nothing extra: setCurrentKey needs it for the key group of a key it has no row for.
 *
 * A slot is two neighbouring elements of one array, the hash (a small integer) and the row, so that a
 * probe touches one cache line; the row holds its key, compared only when the hashes are equal.
 */
export class RowTable {
  /** [hash | 0, row] per slot; an empty slot's row is undefined. */
  private slots: unknown[] = emptySlots(INITIAL_CAPACITY);
  /** Slots - 1 (a power of two - 1). */
  private mask = INITIAL_CAPACITY - 1;
  size = 0;

  /** The row of `key`, whose murmur3 hash is `hash`. */
  get(key: string, hash: number): Row | undefined {
    const h = hash | 0;
    const slots = this.slots;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const row = slots[2 * i + 1] as Row | undefined;
      if (row === undefined) return undefined;
      if (slots[2 * i] === h && row.key === key) return row;
    }
  }

  /** Adds `row`, whose key (hash `hash`) the table does not hold. */
  add(hash: number, row: Row): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    this.place(hash | 0, row);
    this.size++;
  }

  /** Removes `row` (its key's hash is `hash`), if held. */
  delete(hash: number, row: Row): void {
    const slots = this.slots;
    const mask = this.mask;
    let i = hash & mask;
    for (; ; i = (i + 1) & mask) {
      const held = slots[2 * i + 1];
      if (held === undefined) return;
      if (held === row) break;
    }
    // Backward-shift deletion: entries after the hole that probed past it move into it, so lookups
    // can keep stopping at the first empty slot (no tombstones).
    let hole = i;
    for (let j = (i + 1) & mask; slots[2 * j + 1] !== undefined; j = (j + 1) & mask) {
      const home = (slots[2 * j] as number) & mask;
      // It may move when its home is not cyclically within (hole, j].
      if (hole < j ? home <= hole || home > j : home <= hole && home > j) {
        slots[2 * hole] = slots[2 * j];
        slots[2 * hole + 1] = slots[2 * j + 1];
        hole = j;
      }
    }
    slots[2 * hole] = 0;
    slots[2 * hole + 1] = undefined;
    this.size--;
  }

  *values(): IterableIterator<Row> {
    const slots = this.slots;
    for (let i = 1; i < slots.length; i += 2) {
      const row = slots[i] as Row | undefined;
      if (row !== undefined) yield row;
    }
  }

  private place(h: number, row: Row): void {
    const slots = this.slots;
    const mask = this.mask;
    let i = h & mask;
    while (slots[2 * i + 1] !== undefined) i = (i + 1) & mask;
    slots[2 * i] = h;
    slots[2 * i + 1] = row;
  }

  private grow(): void {
    const old = this.slots;
    const capacity = (this.mask + 1) * 2;
    this.slots = emptySlots(capacity);
    this.mask = capacity - 1;
    for (let i = 0; i < old.length; i += 2) {
      const row = old[i + 1] as Row | undefined;
      if (row !== undefined) this.place(old[i] as number, row);
    }
  }
}

function emptySlots(capacity: number): unknown[] {
  const slots = new Array<unknown>(2 * capacity);
  for (let i = 0; i < slots.length; i += 2) {
    slots[i] = 0;
    slots[i + 1] = undefined;
  }
  return slots;
}
