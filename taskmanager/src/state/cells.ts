/**
 * The contract between the state objects (ValueState, ListState, ...) and a backend: the stored
 * value of one state for the backend's current key and namespace. Stored values are opaque to the
 * backend; `undefined` means absent.
 */
export interface StateCells {
  /** Milliseconds, for time-to-live. */
  readonly clock: () => number;
  /** The stored value, to read. */
  readCell(stateId: number): unknown;
  /**
   * The stored value, which the caller is about to change in place (push to a list, mutate an
   * accumulator). Backends take what a pending snapshot needs and mark the value dirty first.
   */
  updateCell(stateId: number): unknown;
  /** Replaces the stored value; `undefined` removes it. */
  writeCell(stateId: number, value: unknown): void;
}
