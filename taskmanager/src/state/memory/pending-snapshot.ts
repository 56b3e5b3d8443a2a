import { encodeValue } from "@riffle/shared";

/** One (key, namespace) of the memory backend: its value per state id (`undefined`: none). */
export interface Row {
  readonly key: string;
  readonly namespace: string;
  /** The key's key group (absolute). */
  readonly keyGroup: number;
  /**
   * The value of state 0 (most keyed operators have one state), held in the row itself: one object
   * less per key keeps more rows in cache.
   */
  first: unknown;
  /** The values of states 1.. at index id - 1; sized to the states registered (a compact row stays in cache). */
  rest: unknown[] | undefined;
  /** Number of defined cells; the row is dropped at 0. */
  live: number;
  /** The backend's snapshot epoch when the row was created or last protected for a pending snapshot. */
  epoch: number;
}

/** Appends a row's defined cells as snapshot entries (stateId, key, namespace, value bytes). */
export function appendRowEntries(out: unknown[], row: Row): void {
  if (row.first !== undefined) out.push(0, row.key, row.namespace, encodeValue(row.first));
  const rest = row.rest;
  if (rest === undefined) return;
  for (let i = 0; i < rest.length; i++) {
    const value = rest[i];
    if (value !== undefined) out.push(i + 1, row.key, row.namespace, encodeValue(value));
  }
}

/** The stored value of state `stateId` in `row`. */
export function cellOf(row: Row, stateId: number): unknown {
  return stateId === 0 ? row.first : row.rest?.[stateId - 1];
}

/**
 * Stores `value` (not undefined) as state `stateId` of `row`; `states` is the number of states
 * registered, which sizes the row. Returns whether the cell was empty before.
 */
export function setCell(row: Row, stateId: number, value: unknown, states: number): boolean {
  if (stateId === 0) {
    const was = row.first === undefined;
    row.first = value;
    return was;
  }
  let rest = row.rest;
  if (rest === undefined || stateId > rest.length) {
    // `[]` would grow to 17 slots at its first store: size it to the states registered.
    const grown = new Array<unknown>(Math.max(states, stateId + 1) - 1);
    if (rest !== undefined) for (let i = 0; i < rest.length; i++) grown[i] = rest[i];
    row.rest = rest = grown;
  }
  const was = rest[stateId - 1] === undefined;
  rest[stateId - 1] = value;
  return was;
}

/** Removes state `stateId` of `row`; returns whether it held a value. */
export function clearCell(row: Row, stateId: number): boolean {
  if (stateId === 0) {
    const was = row.first !== undefined;
    row.first = undefined;
    return was;
  }
  const rest = row.rest;
  if (rest === undefined || stateId > rest.length || rest[stateId - 1] === undefined) return false;
  rest[stateId - 1] = undefined;
  return true;
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

  /**
   * The group's entries as of the capture; from now on its rows need no preserving for this snapshot.
   * `rows` are the group's rows gathered at any time after the capture: rows changed since were
   * preserved, and rows created since are newer than the epoch, so both are skipped here.
   */
  takeGroup(groupIndex: number, rows: readonly Row[] | undefined): unknown[] {
    const out: unknown[] = [];
    if (rows !== undefined) {
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i]!;
        if (row.epoch < this.epoch) appendRowEntries(out, row);
      }
    }
    const preserved = this.preserved[groupIndex];
    if (preserved !== undefined) for (let i = 0; i < preserved.length; i++) out.push(preserved[i]);
    this.preserved[groupIndex] = undefined;
    this.written[groupIndex] = true;
    return out;
  }
}
