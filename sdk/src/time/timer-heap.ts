import { canonicalKey } from "@riffle/shared";

export interface InternalTimer {
  readonly timestamp: number;
  readonly key: unknown;
  readonly namespace: string;
}

/** A timer with the key group of its key: what a keyed snapshot files it under. */
export interface KeyGroupedTimer extends InternalTimer {
  readonly keyGroup: number;
}

interface Entry extends KeyGroupedTimer {
  readonly id: string;
  /**
   * 0 while the timer is registered; once deleted, the number of the first capture that must not
   * see it (see {@link TimerHeap.capture}). Deleted entries stay in the heap until they reach its top.
   */
  removedAt: number;
}

/**
 * A priority queue of timers by timestamp with set semantics: one timer per (timestamp, key,
 * namespace). Removal is lazy: the entry leaves the index at once and is skipped when it reaches the
 * top of the heap.
 *
 * The queue belongs to a keyed state backend (Flink's KeyGroupedInternalPriorityQueue), which
 * checkpoints it with the keyed state: {@link capture} is the synchronous part, a shallow copy of the
 * heap array with no per-timer work; the backend sorts and encodes the copy by key group later, while
 * the task goes on (see TimerHeapCapture).
 */
export class TimerHeap {
  private readonly heap: Entry[] = [];
  private readonly index = new Map<string, Entry>();
  /** Captures taken so far. */
  private captures = 0;

  get size(): number {
    return this.index.size;
  }

  /** Adds a timer of `key`, whose key group is `keyGroup`; a timer already there is kept (not added twice). */
  add(timestamp: number, key: unknown, namespace: string, keyGroup: number): void {
    const id = `${timestamp}\u0000${canonicalKey(key)}\u0000${namespace}`;
    if (this.index.has(id)) return;
    const e: Entry = { id, timestamp, key, namespace, keyGroup, removedAt: 0 };
    this.index.set(id, e);
    this.heap.push(e);
    this.up(this.heap.length - 1);
  }

  remove(timestamp: number, key: unknown, namespace: string): void {
    const id = `${timestamp}\u0000${canonicalKey(key)}\u0000${namespace}`;
    const e = this.index.get(id);
    if (e === undefined) return;
    // Captures taken until now saw it registered; the next one must not.
    e.removedAt = this.captures + 1;
    this.index.delete(id);
  }

  /** The earliest live timer, left in the queue. */
  peek(): InternalTimer | undefined {
    this.dropRemoved();
    return this.heap[0];
  }

  poll(): InternalTimer | undefined {
    this.dropRemoved();
    const top = this.heap[0];
    if (top === undefined) return undefined;
    this.index.delete(top.id);
    this.pop();
    return top;
  }

  /** The live timers, in no particular order. */
  values(): IterableIterator<KeyGroupedTimer> {
    return this.index.values();
  }

  /**
   * The synchronous part of a snapshot: a copy of the heap array (references to entries, which never
   * change but for their deletion mark), O(timers) with no encoding and no hashing. Timers deleted
   * or fired later are still in the copy; timers added later are not.
   */
  capture(): TimerHeapCapture {
    return new TimerHeapCapture(this.heap.slice(), ++this.captures);
  }

  private dropRemoved(): void {
    while (this.heap.length > 0 && this.heap[0]!.removedAt !== 0) this.pop();
  }

  private pop(): void {
    const last = this.heap.pop()!;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.down(0);
    }
  }

  private up(i: number): void {
    const h = this.heap;
    const e = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.timestamp <= e.timestamp) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    const e = h[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && h[c + 1]!.timestamp < h[c]!.timestamp) c++;
      if (h[c]!.timestamp >= e.timestamp) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = e;
  }
}

/** The timers of a {@link TimerHeap} as of one capture. */
export class TimerHeapCapture {
  constructor(
    private readonly entries: readonly Entry[],
    /** The capture's number: entries deleted before it carry a `removedAt` of at most this. */
    private readonly capture: number,
  ) {}

  /** Entries in the copy (deleted ones included); a bound on the timers {@link forEach} visits. */
  get length(): number {
    return this.entries.length;
  }

  /** Calls `fn` for every timer registered at the capture (each once), in heap-array order. */
  forEach(fn: (timer: KeyGroupedTimer) => void): void {
    const entries = this.entries;
    const capture = this.capture;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.removedAt === 0 || e.removedAt > capture) fn(e);
    }
  }
}
