/**
 * Records of a job's `collect` sinks, held for the client that reads them.
 *
 *   sink subtasks ──push(batch)──►  [ chunk | chunk | chunk ]  ──read(cursor)──► client
 *                                    ▲ dropped once a read passes them
 *
 * Positions are absolute record indices from 0. A read at cursor N acknowledges everything before N,
 * which is then dropped. A push that leaves more than `limit` unacknowledged records is answered only
 * once the client caught up (or the job ended): the sink waits, and the job is back-pressured.
 */
export interface ResultRead {
  records: unknown[];
  nextCursor: number;
  /** The job ended and every record was read. */
  drained: boolean;
}

interface Chunk {
  start: number;
  records: readonly unknown[];
}

export class ResultBuffer {
  private chunks: Chunk[] = [];
  /** Records before this index were acknowledged and dropped. */
  private acknowledged = 0;
  private produced = 0;
  private ended = false;
  private closed = false;
  /** Next expected batch sequence per execution, so a retried push is not appended twice. */
  private readonly nextSequence = new Map<string, number>();
  private readonly recordWaiters = new Set<Waiter>();
  private readonly roomWaiters = new Set<Waiter>();

  constructor(private readonly limit: number) {}

  /** Records pushed so far (including dropped ones). */
  get size(): number {
    return this.produced;
  }

  /** Records pushed but not yet acknowledged by a read. */
  get buffered(): number {
    return this.produced - this.acknowledged;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Appends a batch; resolves when there is room for more (at once for a duplicate or an ended job). */
  push(executionId: string, sequence: number, records: readonly unknown[]): Promise<void> {
    const expected = this.nextSequence.get(executionId) ?? 0;
    if (sequence < expected) return Promise.resolve();
    this.nextSequence.set(executionId, sequence + 1);
    if (records.length > 0) {
      this.chunks.push({ start: this.produced, records });
      this.produced += records.length;
      wake(this.recordWaiters);
    }
    if (this.hasRoom()) return Promise.resolve();
    return new Promise((resolve) => {
      this.roomWaiters.add({ ready: () => this.hasRoom(), resolve });
    });
  }

  /**
   * Up to `max` records from `cursor` on, acknowledging everything before `cursor`. A cursor before
   * the oldest kept record reads from that record (another reader acknowledged the rest); a cursor
   * past the end is clamped to it.
   */
  read(cursor: number, max: number): ResultRead {
    const from = Math.min(Math.max(cursor, this.acknowledged), this.produced);
    this.acknowledge(from);
    const records: unknown[] = [];
    for (const chunk of this.chunks) {
      if (records.length >= max) break;
      const end = chunk.start + chunk.records.length;
      if (end <= from) continue;
      const offset = Math.max(0, from - chunk.start);
      const take = Math.min(chunk.records.length - offset, max - records.length);
      for (let i = 0; i < take; i++) records.push(chunk.records[offset + i]);
    }
    const nextCursor = from + records.length;
    return { records, nextCursor, drained: this.ended && nextCursor >= this.produced };
  }

  /** Resolves when records beyond `cursor` exist, the job ended, or `timeoutMs` passed. */
  waitForRecords(cursor: number, timeoutMs: number): Promise<void> {
    if (this.produced > cursor || this.ended || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter: Waiter = {
        ready: () => this.produced > cursor || this.ended,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.recordWaiters.delete(waiter);
        resolve();
      }, timeoutMs);
      this.recordWaiters.add(waiter);
    });
  }

  /** The job reached a terminal status: sinks never wait again and readers learn the end. */
  end(): void {
    this.ended = true;
    wake(this.recordWaiters);
    wake(this.roomWaiters);
  }

  /**
   * The JobManager is shutting down: every waiter is released and nobody waits again, but the
   * results do not count as ended (the job did not end).
   */
  close(): void {
    this.closed = true;
    for (const set of [this.recordWaiters, this.roomWaiters]) {
      for (const w of set) w.resolve();
      set.clear();
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private hasRoom(): boolean {
    return this.ended || this.closed || this.buffered <= this.limit;
  }

  private acknowledge(cursor: number): void {
    if (cursor <= this.acknowledged) return;
    this.acknowledged = cursor;
    let drop = 0;
    while (drop < this.chunks.length) {
      const chunk = this.chunks[drop]!;
      if (chunk.start + chunk.records.length > cursor) break;
      drop++;
    }
    if (drop > 0) this.chunks = this.chunks.slice(drop);
    wake(this.roomWaiters);
  }
}

interface Waiter {
  ready(): boolean;
  resolve(): void;
}

function wake(waiters: Set<Waiter>): void {
  for (const w of waiters) {
    if (!w.ready()) continue;
    waiters.delete(w);
    w.resolve();
  }
}
