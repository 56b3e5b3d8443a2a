import { canonicalKey } from "@riffle/shared";

export interface InternalTimer {
  readonly timestamp: number;
  readonly key: unknown;
  readonly namespace: string;
}

interface Entry extends InternalTimer {
  readonly id: string;
}

/**
 * A priority queue of timers by timestamp with set semantics: one timer per (timestamp, key,
 * namespace). Removal is lazy: the entry leaves the index at once and is skipped when it reaches the
 * top of the heap.
 */
export class TimerHeap {
  private readonly heap: Entry[] = [];
  private readonly index = new Map<string, Entry>();

  get size(): number {
    return this.index.size;
  }

  add(timestamp: number, key: unknown, namespace: string): void {
    const id = `${timestamp}\u0000${canonicalKey(key)}\u0000${namespace}`;
    if (this.index.has(id)) return;
    const e: Entry = { id, timestamp, key, namespace };
    this.index.set(id, e);
    this.heap.push(e);
    this.up(this.heap.length - 1);
  }

  remove(timestamp: number, key: unknown, namespace: string): void {
    this.index.delete(`${timestamp}\u0000${canonicalKey(key)}\u0000${namespace}`);
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

  values(): IterableIterator<InternalTimer> {
    return this.index.values();
  }

  private dropRemoved(): void {
    while (this.heap.length > 0 && this.index.get(this.heap[0]!.id) !== this.heap[0]) this.pop();
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
