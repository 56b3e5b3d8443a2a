/**
 * Where a job's retained checkpoint lives. A checkpoint counts as completed only once its pointer is
 * in the CompletedCheckpointStore: a two-phase-commit sink must never commit a checkpoint that a new
 * leader would not restore.
 */
export interface CheckpointPointer {
  id: number;
  /** Absolute directory of the checkpoint (holds `_metadata`). */
  path: string;
  /** When it completed (ms since the epoch). */
  timestamp: number;
  /** A terminal savepoint kept as what restarts restore (stop, rescale); absent for a checkpoint. */
  savepoint?: boolean;
}

/**
 * A job's checkpoint ids (Flink's CheckpointIDCounter), shared by checkpoints and savepoints: ids
 * never repeat within a job, across restarts and leaders. Writes are fenced by the leadership the
 * counter was opened for.
 */
export interface CheckpointIdCounter {
  /** The next id, without taking it. */
  get(): Promise<number>;
  /** Takes the next id: the caller may trigger a checkpoint with it only once this resolved. */
  getAndIncrement(): Promise<number>;
  /** Sets the next id (a job starting from a savepoint continues after the savepoint's id). */
  setCount(next: number): Promise<void>;
  /** Forgets the counter (the job ended). */
  discard(): Promise<void>;
}

/**
 * Pointers to a job's retained completed checkpoints (Flink's CompletedCheckpointStore). The
 * checkpoint data stays where the coordinator wrote it; the store holds only pointers. Writes are
 * fenced by the leadership the store was opened for.
 */
export interface CompletedCheckpointStore {
  /**
   * Adds `pointer` and drops the oldest pointers beyond `maxRetained` in the same write. Resolves
   * with the dropped pointers: their directories may be deleted only now.
   */
  add(pointer: CheckpointPointer, maxRetained: number): Promise<CheckpointPointer[]>;
  /** Retained pointers, oldest first. */
  getAll(): Promise<CheckpointPointer[]>;
  /** The newest retained pointer: what the job restores after a restart or a failover. */
  getLatest(): Promise<CheckpointPointer | undefined>;
  /** Forgets every pointer (the job ended); the caller deletes the directories. */
  discard(): Promise<void>;
}

/**
 * What adding `pointer` to `existing` keeps and drops under `maxRetained`: the newest ids stay.
 * Adding a pointer whose id is already retained replaces it (a retried write).
 */
export function retainNewest(
  existing: readonly CheckpointPointer[],
  pointer: CheckpointPointer,
  maxRetained: number,
): { kept: CheckpointPointer[]; dropped: CheckpointPointer[] } {
  if (!Number.isInteger(maxRetained) || maxRetained < 1) throw new RangeError(`maxRetained must be a positive integer, got ${maxRetained}`);
  const all = [...existing.filter((p) => p.id !== pointer.id), pointer].sort((a, b) => a.id - b.id);
  const cut = Math.max(0, all.length - maxRetained);
  return { kept: all.slice(cut), dropped: all.slice(0, cut) };
}

/** Throws a RangeError unless `next` can be a checkpoint id. */
export function checkCount(next: number): void {
  if (!Number.isSafeInteger(next) || next < 1) throw new RangeError(`the next checkpoint id must be a positive integer, got ${next}`);
}
