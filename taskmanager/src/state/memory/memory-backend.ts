import { RiffleError, decodeValue } from "@riffle/shared";
import type { KeyedStateHandle, SnapshotCapture } from "../handles.js";
import { KeyedStateBackend, type KeyedStateBackendOptions } from "../keyed-backend.js";
import { ENTRY_ITEMS, FRAME_ENTRIES, KeyedSnapshotWriter } from "../snapshot-format.js";
import { PendingSnapshot, type Row } from "./pending-snapshot.js";

/**
 * The rows of one key group. Rows of the default namespace are keyed by the key's canonical text
 * alone (no string building per record); other namespaces by {@link spacedKey}.
 */
class Group {
  readonly main = new Map<string, Row>();
  spaced: Map<string, Row> | undefined;
}

/** `key` and `namespace` as one string; the length prefix makes it unambiguous whatever they contain. */
function spacedKey(key: string, namespace: string): string {
  return `${key.length}:${key}${namespace}`;
}

/**
 * Keyed state in JS Maps: key group → (key, namespace) → state id → value. Rows hold every state of
 * a key, so a record costs one Map lookup however many states its function uses; the lookup is
 * memoised per current key. Snapshots are copy-on-write per row (see PendingSnapshot): the
 * synchronous part is O(1), and only rows touched while a snapshot is being written are copied.
 */
export class MemoryKeyedStateBackend extends KeyedStateBackend {
  private groups: (Group | undefined)[];
  private epoch = 0;
  private readonly pending: PendingSnapshot[] = [];
  private disposed = false;
  private memoVersion = -1;
  private memoRow: Row | undefined;

  constructor(options: KeyedStateBackendOptions) {
    super(options);
    this.groups = new Array<Group | undefined>(this.keyGroupRange.end - this.keyGroupRange.start + 1);
  }

  readCell(stateId: number): unknown {
    const row = this.row(false);
    if (row === undefined) return undefined;
    if (this.pending.length !== 0) this.protect(row);
    return row.cells[stateId];
  }

  updateCell(stateId: number): unknown {
    return this.readCell(stateId);
  }

  writeCell(stateId: number, value: unknown): void {
    if (value === undefined) {
      const row = this.row(false);
      if (row === undefined || row.cells[stateId] === undefined) return;
      if (this.pending.length !== 0) this.protect(row);
      row.cells[stateId] = undefined;
      if (--row.live === 0) this.removeRow(row);
      return;
    }
    const row = this.row(true)!;
    if (this.pending.length !== 0) this.protect(row);
    if (row.cells[stateId] === undefined) row.live++;
    row.cells[stateId] = value;
  }

  /** Number of (key, namespace) rows held. */
  rowCount(): number {
    let n = 0;
    for (const g of this.groups) if (g !== undefined) n += g.main.size + (g.spaced?.size ?? 0);
    return n;
  }

  snapshot(): SnapshotCapture<KeyedStateHandle> {
    const pending = new PendingSnapshot(++this.epoch, this.groups.length);
    this.pending.push(pending);
    return {
      write: (dir) => this.writeSnapshot(pending, dir),
      discard: () => this.release(pending),
    };
  }

  async restore(dir: string, handles: readonly KeyedStateHandle[]): Promise<void> {
    this.memoVersion = -1;
    await this.readSnapshots(dir, handles, (keyGroup, stateId, key, namespace, bytes) => {
      const index = keyGroup - this.keyGroupRange.start;
      const group = (this.groups[index] ??= new Group());
      const map = namespace === "" ? group.main : (group.spaced ??= new Map());
      const mapKey = namespace === "" ? key : spacedKey(key, namespace);
      let row = map.get(mapKey);
      if (row === undefined) {
        row = { key, namespace, cells: [], live: 0, epoch: this.epoch };
        map.set(mapKey, row);
      }
      if (row.cells[stateId] === undefined) row.live++;
      row.cells[stateId] = decodeValue(bytes);
    });
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    for (const p of this.pending) p.discarded = true;
    this.pending.length = 0;
    this.groups = [];
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
    const index = keyGroup - this.keyGroupRange.start;
    const key = this.currentKeyText;
    const namespace = this.currentNamespace;
    let group = this.groups[index];
    let row = group === undefined ? undefined : namespace === "" ? group.main.get(key) : group.spaced?.get(spacedKey(key, namespace));
    if (row === undefined && create) {
      group ??= this.groups[index] = new Group();
      row = { key, namespace, cells: [], live: 0, epoch: this.epoch };
      if (namespace === "") group.main.set(key, row);
      else (group.spaced ??= new Map()).set(spacedKey(key, namespace), row);
    }
    this.memoVersion = this.contextVersion;
    this.memoRow = row;
    return row;
  }

  private removeRow(row: Row): void {
    const group = this.groups[this.currentKeyGroup - this.keyGroupRange.start]!;
    if (row.namespace === "") group.main.delete(row.key);
    else group.spaced?.delete(spacedKey(row.key, row.namespace));
    if (this.memoRow === row) this.memoRow = undefined;
  }

  /** Gives the current row to every pending snapshot before its first change (or read) after their capture. */
  private protect(row: Row): void {
    if (row.epoch >= this.epoch) return;
    const index = this.currentKeyGroup - this.keyGroupRange.start;
    for (const p of this.pending) p.preserve(index, row);
    row.epoch = this.epoch;
  }

  private async writeSnapshot(pending: PendingSnapshot, dir: string): Promise<KeyedStateHandle> {
    if (pending.discarded || !this.pending.includes(pending)) throw new RiffleError("INTERNAL", "this snapshot was discarded or already written");
    let writer: KeyedSnapshotWriter | undefined;
    try {
      writer = await KeyedSnapshotWriter.create(dir, this.keyGroupRange, this.maxParallelism, this.metas.slice());
      const frameItems = FRAME_ENTRIES * ENTRY_ITEMS;
      for (let index = 0; index < this.groups.length; index++) {
        if (pending.discarded) throw new RiffleError("INTERNAL", "the backend was disposed while a snapshot was written");
        // Taken synchronously: between two awaits no record is processed, so the group is consistent.
        const group = this.groups[index];
        const entries = pending.takeGroup(index, group === undefined ? [] : [group.main, group.spaced]);
        const keyGroup = this.keyGroupRange.start + index;
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
