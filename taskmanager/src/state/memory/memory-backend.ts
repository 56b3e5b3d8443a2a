import { RiffleError, decodeValue, murmur3Utf8 } from "@riffle/shared";
import type { KeyedStateHandle, SnapshotCapture } from "../handles.js";
import { KeyedStateBackend, type KeyedStateBackendOptions } from "../keyed-backend.js";
import { ENTRY_ITEMS, FRAME_ENTRIES, KeyedSnapshotWriter } from "../snapshot-format.js";
import type { TimerSnapshot } from "../timer-snapshot.js";
import { PendingSnapshot, type Row, cellOf, clearCell, setCell } from "./pending-snapshot.js";
import { RowTable } from "./row-table.js";

/** `key` and `namespace` as one string; the length prefix makes it unambiguous whatever they contain. */
function spacedKey(key: string, namespace: string): string {
  return `${key.length}:${key}${namespace}`;
}

/**
 * Keyed state in memory: (key, namespace) → state id → value, one {@link RowTable} for the rows of
 * the default namespace, keyed by the key's canonical text alone (no string building per record) and
 * hashed by the key's murmur3, which setCurrentKey computes once per record for both the lookup and
 * the key group; and one Map for other namespaces, keyed by {@link spacedKey}. Rows hold every state
 * of a key and its key group, so a record costs one lookup however many states its function uses.
 * The lookup is memoised per current key. Snapshots are copy-on-write per row (see PendingSnapshot): the synchronous part is
 * O(1) for state (plus a shallow copy of the timer queues), and only rows touched while a snapshot is
 * being written are copied; the writer sorts rows by key group when it starts.
 */
export class MemoryKeyedStateBackend extends KeyedStateBackend {
  private main = new RowTable();
  private spaced = new Map<string, Row>();
  private epoch = 0;
  private readonly pending: PendingSnapshot[] = [];
  private disposed = false;
  private memoVersion = -1;
  private memoRow: Row | undefined;
  /** murmur3 of the current key's text. */
  private currentHash = 0;

  // Public: the base constructor is protected.
  constructor(options: KeyedStateBackendOptions) {
    super(options);
  }

  override setCurrentKey(key: unknown): void {
    const text = this.keyText(key);
    const hash = murmur3Utf8(text);
    this.currentHash = hash;
    // Operators keeping state only in other namespaces (windows) skip the lookup.
    const row = this.main.size === 0 ? undefined : this.main.get(text, hash);
    if (row === undefined) {
      this.setKey(key, text, this.checkedKeyGroupOf(hash, text));
    } else {
      // A row of this key exists: its key group is known and in range.
      this.setKey(key, text, row.keyGroup);
    }
    if (this.currentNamespace === "") {
      this.memoVersion = this.contextVersion;
      this.memoRow = row;
    }
  }

  readCell(stateId: number): unknown {
    const row = this.row(false);
    if (row === undefined) return undefined;
    if (this.pending.length !== 0) this.protect(row);
    return cellOf(row, stateId);
  }

  updateCell(stateId: number): unknown {
    return this.readCell(stateId);
  }

  writeCell(stateId: number, value: unknown): void {
    if (value === undefined) {
      const row = this.row(false);
      if (row === undefined || cellOf(row, stateId) === undefined) return;
      if (this.pending.length !== 0) this.protect(row);
      clearCell(row, stateId);
      if (--row.live === 0) this.removeRow(row);
      return;
    }
    const row = this.row(true)!;
    if (this.pending.length !== 0) this.protect(row);
    if (setCell(row, stateId, value, this.metas.length)) row.live++;
  }

  /** Number of (key, namespace) rows held. */
  rowCount(): number {
    return this.main.size + this.spaced.size;
  }

  snapshot(): SnapshotCapture<KeyedStateHandle> {
    const pending = new PendingSnapshot(++this.epoch, this.keyGroupRange.end - this.keyGroupRange.start + 1);
    this.pending.push(pending);
    const timers = this.captureTimers();
    return {
      write: (dir) => this.writeSnapshot(pending, dir, timers),
      discard: () => this.release(pending),
    };
  }

  async restore(dir: string, handles: readonly KeyedStateHandle[]): Promise<void> {
    this.memoVersion = -1;
    await this.readSnapshots(dir, handles, (keyGroup, stateId, key, namespace, bytes) => {
      const hash = namespace === "" ? murmur3Utf8(key) : 0;
      let row = namespace === "" ? this.main.get(key, hash) : this.spaced.get(spacedKey(key, namespace));
      if (row === undefined) {
        row = { key, namespace, keyGroup, first: undefined, rest: undefined, live: 0, epoch: this.epoch };
        if (namespace === "") this.main.add(hash, row);
        else this.spaced.set(spacedKey(key, namespace), row);
      }
      if (setCell(row, stateId, decodeValue(bytes), this.metas.length)) row.live++;
    });
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    for (const p of this.pending) p.discarded = true;
    this.pending.length = 0;
    this.main = new RowTable();
    this.spaced = new Map();
    this.memoVersion = -1;
    this.memoRow = undefined;
  }

  /** The current (key, namespace)'s row; created when `create`. */
  private row(create: boolean): Row | undefined {
    if (this.memoVersion === this.contextVersion) {
      const memo = this.memoRow;
      if (memo !== undefined || !create) return memo;
    }
    if (this.disposed) throw new RiffleError("INTERNAL", "the state backend was disposed");
    const keyGroup = this.currentKeyGroup;
    if (keyGroup < 0) throw this.noCurrentKey();
    const key = this.currentKeyText;
    const namespace = this.currentNamespace;
    let row = namespace === "" ? this.main.get(key, this.currentHash) : this.spaced.get(spacedKey(key, namespace));
    if (row === undefined && create) {
      row = { key, namespace, keyGroup, first: undefined, rest: undefined, live: 0, epoch: this.epoch };
      if (namespace === "") this.main.add(this.currentHash, row);
      else this.spaced.set(spacedKey(key, namespace), row);
    }
    this.memoVersion = this.contextVersion;
    this.memoRow = row;
    return row;
  }

  private removeRow(row: Row): void {
    if (row.namespace === "") this.main.delete(murmur3Utf8(row.key), row);
    else this.spaced.delete(spacedKey(row.key, row.namespace));
    if (this.memoRow === row) this.memoRow = undefined;
  }

  /** Gives the current row to every pending snapshot before its first change (or read) after their capture. */
  private protect(row: Row): void {
    if (row.epoch >= this.epoch) return;
    const index = row.keyGroup - this.keyGroupRange.start;
    for (const p of this.pending) p.preserve(index, row);
    row.epoch = this.epoch;
  }

  private async writeSnapshot(pending: PendingSnapshot, dir: string, timers: TimerSnapshot | undefined): Promise<KeyedStateHandle> {
    if (pending.discarded || !this.pending.includes(pending)) throw new RiffleError("INTERNAL", "this snapshot was discarded or already written");
    let writer: KeyedSnapshotWriter | undefined;
    try {
      writer = await KeyedSnapshotWriter.create(dir, this.keyGroupRange, this.maxParallelism, this.metas.slice(), timers);
      const frameItems = FRAME_ENTRIES * ENTRY_ITEMS;
      if (pending.discarded) throw new RiffleError("INTERNAL", "the backend was disposed while a snapshot was written");
      // The rows by key group, as of now: rows changed or removed later are preserved by then, rows added later are skipped.
      const start = this.keyGroupRange.start;
      const byGroup = new Array<Row[] | undefined>(this.keyGroupRange.end - start + 1);
      for (const rows of [this.main, this.spaced]) {
        for (const row of rows.values()) {
          if (row.epoch < pending.epoch) (byGroup[row.keyGroup - start] ??= []).push(row);
        }
      }
      for (let index = 0; index < byGroup.length; index++) {
        if (pending.discarded) throw new RiffleError("INTERNAL", "the backend was disposed while a snapshot was written");
        // Taken synchronously: between two awaits no record is processed, so the group is consistent.
        const entries = pending.takeGroup(index, byGroup[index]);
        byGroup[index] = undefined;
        const keyGroup = start + index;
        for (let i = 0; i < entries.length; i += frameItems) await writer.writeGroup(keyGroup, entries.slice(i, i + frameItems));
      }
      return await writer.finish();
    } catch (err) {
      await writer?.abort();
      throw err;
    } finally {
      this.release(pending);
    }
  }

  private release(pending: PendingSnapshot): void {
    pending.discarded = true;
    const i = this.pending.indexOf(pending);
    if (i >= 0) this.pending.splice(i, 1);
  }
}
