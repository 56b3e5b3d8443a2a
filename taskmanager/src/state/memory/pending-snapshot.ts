import { encodeValue } from "@riffle/shared";

/** One (key, namespace) of the memory backend: its value per state id (`undefined`: none). */
export interface Row {
  readonly key: string;
  readonly namespace: string;
  readonly cells: unknown[];
  /** Number of defined cells; the row is dropped at 0. */
  live: number;
  /** The backend's snapshot epoch when the row was created or last protected for a pending snapshot. */
  epoch: number;
}

/** Appends a row's defined cells as snapshot entries (stateId, key, namespace, value bytes). */
export function appendRowEntries(out: unknown[], row: Row): void {
  const cells = row.cells;
  for (let id = 0; id < cells.length; id++) {
    const value = cells[id];
    if (value !== undefined) out.push(id, row.key, row.namespace, encodeValue(value));
  }
}

/**
 * A memory snapshot between its capture and the end of its write: copy-on-write per row. The capture
 * itself copies nothing; it starts epoch `epoch`. Rows older than the epoch are unchanged since the
 * capture. Before a row is first touched after the capture (read or written, since objects read from
 * state can be changed in place), the backend hands it to {@link preserve}, which keeps its encoded
 * cells unless its key group is already written. The writer then emits, per key group, the rows
 * still older than the epoch plus the preserved ones; rows created after the capture are skipped.
 */
export class PendingSnapshot {
  private readonly written: boolean[];
  private readonly preserved: (unknown[] | undefined)[];
  discarded = false;

  constructor(
    readonly epoch: number,
    groups: number,
  ) {
    this.written = new Array<boolean>(groups).fill(false);
    this.preserved = new Array<unknown[] | undefined>(groups);
  }

  preserve(groupIndex: number, row: Row): void {
    if (row.epoch >= this.epoch || this.written[groupIndex]) return;
    appendRowEntries((this.preserved[groupIndex] ??= []), row);
  }

  /** The group's entries as of the capture; from now on its rows need no preserving for this snapshot. */
  takeGroup(groupIndex: number, rowMaps: readonly (ReadonlyMap<string, Row> | undefined)[]): unknown[] {
    const out: unknown[] = [];
    for (const rows of rowMaps) {
      if (rows === undefined) continue;
      for (const row of rows.values()) if (row.epoch < this.epoch) appendRowEntries(out, row);
    }
    const preserved = this.preserved[groupIndex];
    if (preserved !== undefined) for (let i = 0; i < preserved.length; i++) out.push(preserved[i]);
    this.preserved[groupIndex] = undefined;
    this.written[groupIndex] = true;
    return out;
  }
}
