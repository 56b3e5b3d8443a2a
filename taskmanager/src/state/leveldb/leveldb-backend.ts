import { rm } from "node:fs/promises";
import { RiffleError, decodeValue, describeError, encodeValue } from "@riffle/shared";
import { ClassicLevel } from "classic-level";
import type { KeyedStateHandle, SnapshotCapture } from "../handles.js";
import { KeyedStateBackend, type KeyedStateBackendOptions } from "../keyed-backend.js";
import { KeyedSnapshotWriter } from "../snapshot-format.js";
import type { TimerSnapshot } from "../timer-snapshot.js";
import { type DbKeyParts, dbKey, keyGroupPrefix, keySuffix, parseDbKey, valueBytes, valueText } from "./db-keys.js";
import { ABSENT, type CachedRow, type FrozenWrite, RowCache, type WriteBatch } from "./row-cache.js";

/** Rows the write-back cache holds unless cacheMaxEntries says otherwise (the benchmarks print it beside their keys). */
export const DEFAULT_CACHE_MAX_ENTRIES = 100_000;

export interface LevelDbKeyedStateBackendOptions extends KeyedStateBackendOptions {
  /** Directory of the database. It is created, must not hold a database yet, and is deleted on dispose. */
  directory: string;
  /** Rows ((key, namespace) pairs) the write-back cache holds. Default 100 000. */
  cacheMaxEntries?: number;
  /** Dirty rows above which a full cache writes in the background, so eviction finds clean rows. Default half of cacheMaxEntries. */
  flushThreshold?: number;
  /** Rows per LevelDB write batch. Default 4096. */
  flushBatchSize?: number;
}

/** Keys and values are text (see db-keys.ts). */
type Db = ClassicLevel<string, string>;
type DbSnapshot = ReturnType<Db["snapshot"]>;
type DbBatch = ReturnType<Db["batch"]>;

export interface LevelDbBackendStats {
  cachedRows: number;
  dirtyRows: number;
  /** Database reads on a cache miss. */
  reads: number;
  /** Write batches sent (background flushes and snapshots). */
  batches: number;
}

/** How far past its bound the cache may grow (while every row is dirty) before the backend asks for back-pressure. */
const OVERFLOW = 1.5;
/** Options of a read by a key given as bytes (both encodings named, so classic-level does not copy them per read). */
const BUFFER_KEY = { keyEncoding: "buffer" as const, valueEncoding: "utf8" as const };
/** Entries per iterator call of a snapshot scan, and the bytes at which classic-level ends one early (its default is 16 KiB). */
const SCAN_ENTRIES = 8192;
const SCAN_BYTES = 1 << 20;

/**
 * Keyed state in LevelDB (classic-level), one database per backend, with a bounded write-back cache
 * in front (awaiting a LevelDB get per record caps an operator at ~27k records/s here; `getSync` on a
 * miss does ~237k/s, and batched writes ~470k/s).
 *
 * - Reads go to the cache; a miss reads with `getSync` and caches the value, or that there is none.
 * - Writes change the cache and mark the row dirty: nothing is written while the cache has room, so
 *   a key updated a thousand times between checkpoints is written once.
 * - When the cache is full, clean rows are evicted, least recently used first; while rows are being
 *   evicted, past `flushThreshold` dirty rows (or when eviction finds none clean), batches of dirty
 *   rows are written in the background. Rows being written stay cached until their batch lands, so a miss never reads an
 *   older value. All writes go through one queue, so batches land in the order they were made.
 *   While every row is dirty or in flight the cache grows past its bound; `isAvailable()` turns
 *   false at 1.5 times the bound so a task can wait (`available()`) instead of growing further.
 * - A snapshot's synchronous part only freezes the dirty rows (a flag per row) and copies the timer
 *   queues' arrays (timers are kept in memory, see KeyedStateBackend). The rows are encoded in
 *   the background, each one earlier if the task touches it first, written before anything written
 *   after the capture, and followed by a LevelDB snapshot whose key-group range is then written to
 *   the common snapshot format while processing continues.
 * - Keys and values are stored as text (db-keys.ts): classic-level gives a scan its entries as
 *   strings ~3x faster than as Buffers, and the values' text is their msgpack bytes, copied into the
 *   snapshot's frames without decoding (1M keys: ~0.7 s here, against ~4 s with Buffers and
 *   msgpackr-encoded frames).
 *
 * List and map states are one LevelDB value per (key, namespace) holding the whole list or map.
 */
export class LevelDbKeyedStateBackend extends KeyedStateBackend {
  readonly directory: string;
  private readonly maxEntries: number;
  private readonly flushThreshold: number;
  private readonly flushBatchSize: number;
  private readonly cache = new RowCache();
  private dirtyRows: CachedRow[] = [];
  private writes: Promise<void> = Promise.resolve();
  private flushing = false;
  private flushScheduled = false;
  /** Batches landed so far. */
  private landed = 0;
  /** `landed` when an eviction found only dirty or in-flight rows: none is tried again until another batch lands. */
  private evictionBlockedAt = -1;
  /** Rows cached in place of an evicted one; background writes are needed only while this grows. */
  private evictions = 0;
  private evictionsAtFlush = 0;
  private waiters: (() => void)[] = [];
  private failure: RiffleError | undefined;
  private disposed = false;
  private memoVersion = -1;
  private memoRow: CachedRow | undefined;
  private readonly counters = { reads: 0, batches: 0 };

  private constructor(
    options: LevelDbKeyedStateBackendOptions,
    private readonly db: Db,
  ) {
    super(options);
    this.directory = options.directory;
    this.maxEntries = positiveInteger(options.cacheMaxEntries ?? DEFAULT_CACHE_MAX_ENTRIES, "cacheMaxEntries");
    this.flushThreshold = positiveInteger(options.flushThreshold ?? Math.max(1, Math.floor(this.maxEntries / 2)), "flushThreshold");
    this.flushBatchSize = positiveInteger(options.flushBatchSize ?? 4096, "flushBatchSize");
  }

  static async create(options: LevelDbKeyedStateBackendOptions): Promise<LevelDbKeyedStateBackend> {
    for (const name of ["cacheMaxEntries", "flushThreshold", "flushBatchSize"] as const) {
      if (options[name] !== undefined) positiveInteger(options[name], name);
    }
    const db: Db = new ClassicLevel<string, string>(options.directory, {
      keyEncoding: "utf8",
      valueEncoding: "utf8",
      createIfMissing: true,
      errorIfExists: true,
    });
    if (typeof (db as Partial<Db>).getSync !== "function") {
      throw new RiffleError("STATE_BACKEND_FAILED", "the leveldb state backend needs classic-level 3 or later (db.getSync is missing)");
    }
    try {
      await db.open();
    } catch (err) {
      throw new RiffleError("STATE_BACKEND_FAILED", `cannot create a state database in ${options.directory}: ${describeError(err)}`, { cause: err });
    }
    try {
      return new LevelDbKeyedStateBackend(options, db);
    } catch (err) {
      await db.close().catch(() => {});
      await rm(options.directory, { recursive: true, force: true }).catch(() => {});
      throw err;
    }
  }

  // ---- cells ----

  readCell(stateId: number): unknown {
    const row = this.row();
    if (row.frozen !== undefined) this.unfreeze(row);
    let value = row.cells[stateId];
    if (value === undefined) value = this.load(row, stateId);
    return value === ABSENT ? undefined : value;
  }

  updateCell(stateId: number): unknown {
    const value = this.readCell(stateId);
    this.markDirty(this.memoRow!, stateId);
    return value;
  }

  writeCell(stateId: number, value: unknown): void {
    const row = this.row();
    if (row.frozen !== undefined) this.unfreeze(row);
    if (value === undefined) {
      // Already absent, or its delete already pending.
      if (row.cells[stateId] === ABSENT) return;
      row.cells[stateId] = ABSENT;
    } else {
      row.cells[stateId] = value;
    }
    this.markDirty(row, stateId);
  }

  /** False while the cache is far past its bound, waiting for background writes: stop processing until `available()`. */
  override isAvailable(): boolean {
    return this.cache.size < this.maxEntries * OVERFLOW || this.failure !== undefined;
  }

  /** Resolves when {@link isAvailable} is true again. */
  override available(): Promise<void> {
    if (this.isAvailable()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  stats(): LevelDbBackendStats {
    return { cachedRows: this.cache.size, dirtyRows: this.dirtyRows.length, reads: this.counters.reads, batches: this.counters.batches };
  }

  /** Resolves when every write queued so far has landed (tests, and orderly shutdown). */
  async flushed(): Promise<void> {
    await this.writes;
    this.throwIfFailed();
  }

  // ---- snapshots ----

  snapshot(): SnapshotCapture<KeyedStateHandle> {
    this.throwIfFailed();
    const rows = this.dirtyRows;
    this.dirtyRows = [];
    const frozen: FrozenWrite = { batch: this.db.batch() };
    for (const row of rows) {
      row.frozen = frozen;
      row.frozenIds = row.dirty;
      row.dirty = undefined;
      row.inflight++;
    }
    const timers = this.captureTimers();
    // Queued now, so it lands before any write made after the capture, whether or not the snapshot is used.
    const ready = this.enqueue(() => this.writeFrozen(rows, frozen));
    // Observed here so a capture that is never used does not leave an unhandled rejection.
    ready.catch(() => {});
    let used = false;
    return {
      write: async (dir) => {
        if (used) throw new RiffleError("INTERNAL", "this snapshot was discarded or already written");
        used = true;
        const snapshot = await ready;
        try {
          return await this.writeSnapshot(snapshot, dir, timers);
        } finally {
          await snapshot.close().catch(() => {});
        }
      },
      discard: () => {
        if (used) return;
        used = true;
        ready.then((s) => s.close()).catch(() => {});
      },
    };
  }

  async restore(dir: string, handles: readonly KeyedStateHandle[]): Promise<void> {
    this.throwIfFailed();
    if (this.cache.size > 0) throw new RiffleError("INTERNAL", "state must be restored before it is used");
    let batch: DbBatch = this.db.batch();
    const writeOps = async () => {
      if (batch.length === 0) return;
      const full = batch;
      batch = this.db.batch();
      await this.enqueue(() => full.write());
    };
    await this.readSnapshots(
      dir,
      handles,
      (keyGroup, stateId, key, namespace, value) => {
        // The value bytes are stored as they are (as latin1 text): both sides use the same value encoding.
        batch.put(dbKey(keyGroup, stateId, keySuffix(key, namespace)), valueText(value));
      },
      async () => {
        if (batch.length >= this.flushBatchSize) await writeOps();
      },
    );
    try {
      await writeOps();
    } finally {
      await batch.close().catch(() => {});
    }
    await this.flushed();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.failure ??= new RiffleError("INTERNAL", "the state backend was disposed");
    this.wakeWaiters();
    await this.writes;
    this.cache.clear();
    this.dirtyRows = [];
    try {
      await this.db.close();
    } finally {
      await rm(this.directory, { recursive: true, force: true });
    }
  }

  // ---- internals ----

  /** The current (key, namespace)'s cached row, created (empty) on a miss. */
  private row(): CachedRow {
    if (this.memoVersion === this.contextVersion && this.memoRow !== undefined) return this.memoRow;
    if (this.failure !== undefined) throw this.failure;
    const keyGroup = this.currentKeyGroup;
    if (keyGroup < 0) throw this.noCurrentKey();
    let row = this.cache.get(this.currentKeyText, this.currentNamespace);
    if (row === undefined) {
      row = {
        key: this.currentKeyText,
        namespace: this.currentNamespace,
        keyGroup,
        cells: [],
        dirty: undefined,
        inflight: 0,
        frozen: undefined,
        frozenIds: undefined,
        used: false,
        suffix: undefined,
        slot: -1,
      };
      this.insert(row);
    } else {
      row.used = true;
    }
    this.memoVersion = this.contextVersion;
    this.memoRow = row;
    return row;
  }

  private load(row: CachedRow, stateId: number): unknown {
    row.suffix ??= keySuffix(row.key, row.namespace);
    let text: string | undefined;
    try {
      // The key as UTF-8 bytes: classic-level 3.0's getSync of a string key writes it into a shared
      // buffer and, when a multi-byte character does not fit, reads a truncated key (another key's value).
      text = this.db.getSync<Buffer, string>(Buffer.from(dbKey(row.keyGroup, stateId, row.suffix), "utf8"), BUFFER_KEY);
    } catch (err) {
      throw this.fail(err);
    }
    this.counters.reads++;
    const value = text === undefined ? ABSENT : decodeValue(valueBytes(text));
    row.cells[stateId] = value;
    return value;
  }

  private markDirty(row: CachedRow, stateId: number): void {
    if (row.dirty === undefined) {
      row.dirty = [stateId];
      this.dirtyRows.push(row);
      if (this.dirtyRows.length >= this.flushThreshold && this.evictions !== this.evictionsAtFlush) this.scheduleFlush();
    } else if (!row.dirty.includes(stateId)) {
      row.dirty.push(stateId);
    }
  }

  /** Encodes a row captured by a pending snapshot before it changes (or is read: values may be changed in place). */
  private unfreeze(row: CachedRow): void {
    this.encodeCells(row, row.frozenIds!, row.frozen!.batch);
    row.frozen = undefined;
    row.frozenIds = undefined;
  }

  /**
   * Flushes after the current synchronous work: a state method may change a value in place right
   * after marking it dirty, so rows are never encoded in the middle of one.
   */
  private scheduleFlush(): void {
    if (this.flushScheduled || this.flushing) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.flushing || this.failure !== undefined || this.dirtyRows.length === 0) return;
    const rows = this.dirtyRows.splice(0, this.flushBatchSize);
    this.evictionsAtFlush = this.evictions;
    const batch = this.db.batch();
    for (const row of rows) {
      this.encodeCells(row, row.dirty!, batch);
      row.dirty = undefined;
      row.inflight++;
    }
    this.flushing = true;
    this.counters.batches++;
    this.enqueue(() => batch.write()).then(
      () => {
        for (const row of rows) row.inflight--;
        this.flushing = false;
        this.landed++;
        if (this.cache.size > this.maxEntries && this.cache.shrink(this.maxEntries) > 0) this.memoVersion = -1;
        if (this.cache.size > this.maxEntries || (this.dirtyRows.length >= this.flushThreshold && this.evictions !== this.evictionsAtFlush)) this.flush();
        this.wakeWaiters();
      },
      () => {
        this.flushing = false;
        this.wakeWaiters();
      },
    );
  }

  /** Writes a snapshot's frozen rows (encoding those the task has not touched yet), then takes the LevelDB snapshot. */
  private async writeFrozen(rows: readonly CachedRow[], frozen: FrozenWrite): Promise<DbSnapshot> {
    for (let i = 0; i < rows.length; i += this.flushBatchSize) {
      const end = Math.min(rows.length, i + this.flushBatchSize);
      for (let j = i; j < end; j++) if (rows[j]!.frozen === frozen) this.unfreeze(rows[j]!);
      if (frozen.batch.length >= this.flushBatchSize || end === rows.length) {
        const batch = frozen.batch;
        frozen.batch = this.db.batch();
        this.counters.batches++;
        await batch.write();
      }
    }
    // Rows the task touched during the last batch were encoded meanwhile (a batch without operations only closes).
    await frozen.batch.write();
    for (const row of rows) row.inflight--;
    this.landed++;
    this.wakeWaiters();
    return this.db.snapshot();
  }

  private encodeCells(row: CachedRow, ids: readonly number[], out: WriteBatch): void {
    row.suffix ??= keySuffix(row.key, row.namespace);
    for (const id of ids) {
      const value = row.cells[id];
      const key = dbKey(row.keyGroup, id, row.suffix);
      if (value === ABSENT) out.del(key);
      else out.put(key, encodeValue(value).toString("latin1"));
    }
  }

  /** Caches a new row, in place of an evicted one when the cache is full. */
  private insert(row: CachedRow): void {
    const full = this.cache.size >= this.maxEntries && this.evictionBlockedAt !== this.landed;
    if (full) this.evictions++;
    if (!this.cache.insert(row, full)) {
      // Every row is dirty or in flight: write some, and look again when that lands.
      this.evictionBlockedAt = this.landed;
      this.scheduleFlush();
    }
  }

  private wakeWaiters(): void {
    if (this.waiters.length === 0 || !this.isAvailable()) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Runs a database write after every write queued before it. */
  private enqueue<T>(op: () => Promise<T>): Promise<T> {
    const result = this.writes.then(op);
    this.writes = result.then(
      () => undefined,
      (err) => {
        this.fail(err);
        this.wakeWaiters();
      },
    );
    return result;
  }

  /**
   * Writes the key groups of the LevelDB snapshot to the common format: large iterator batches of
   * strings, the next one read while this one is written, each entry copied into the frames without
   * decoding its value (see db-keys.ts).
   */
  private async writeSnapshot(snapshot: DbSnapshot, dir: string, timers: TimerSnapshot | undefined): Promise<KeyedStateHandle> {
    const { start, end } = this.keyGroupRange;
    const writer = await KeyedSnapshotWriter.create(dir, this.keyGroupRange, this.maxParallelism, this.metas.slice(), timers);
    const iterator = this.db.iterator({ gte: keyGroupPrefix(start), lt: keyGroupPrefix(end + 1), snapshot, highWaterMarkBytes: SCAN_BYTES });
    let next: Promise<[string, string][]> | undefined;
    try {
      const parts: DbKeyParts = { stateId: 0, keyStart: 0, keyEnd: 0 };
      const read = () => {
        next = iterator.nextv(SCAN_ENTRIES);
        // Handled here, while it may be pending across a file write; awaited (and thrown) below.
        next.catch(() => {});
        return next;
      };
      read();
      for (;;) {
        const batch = await next!;
        next = undefined;
        if (batch.length === 0) break;
        read();
        for (let i = 0; i < batch.length; i++) {
          const entry = batch[i]!;
          const key = entry[0];
          const keyGroup = parseDbKey(key, parts);
          writer.addEntry(keyGroup, parts.stateId, key, parts.keyStart, parts.keyEnd, entry[1]);
        }
        if (writer.needsDrain()) await writer.drain();
      }
      return await writer.finish();
    } catch (err) {
      // The read under way must end before the iterator closes.
      await next?.catch(() => {});
      await writer.abort();
      throw err instanceof RiffleError
        ? err
        : new RiffleError("STATE_BACKEND_FAILED", `snapshot of ${this.directory} failed: ${describeError(err)}`, { cause: err });
    } finally {
      await iterator.close().catch(() => {});
    }
  }

  private fail(err: unknown): RiffleError {
    this.failure ??=
      err instanceof RiffleError ? err : new RiffleError("STATE_BACKEND_FAILED", `state database ${this.directory}: ${describeError(err)}`, { cause: err });
    return this.failure;
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

function positiveInteger(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1) throw new RiffleError("CONFIG_INVALID", `leveldb state backend: ${name} must be a positive integer, got ${n}`);
  return n;
}
