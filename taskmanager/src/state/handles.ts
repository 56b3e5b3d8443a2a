import type { KeyGroupRange, KeyedStateHandle, OperatorStateHandle } from "@riffle/shared";

/**
 * The handles are the checkpoint contracts of @riffle/shared: what a snapshot wrote (paths relative
 * to the directory given to `write`, so a checkpoint directory can be moved) and what a restore needs
 * to find its part without reading everything.
 */
export type { KeyedStateHandle, OperatorStateHandle };
export type StateHandle = KeyedStateHandle | OperatorStateHandle;

/**
 * A snapshot taken in two parts, as Flink's: the backend captures a consistent view synchronously
 * (short: processing is stopped meanwhile), then `write` persists it while processing goes on.
 * Exactly one of `write` or `discard` must be called, so the backend can release what it holds for
 * the capture.
 */
export interface SnapshotCapture<H extends StateHandle> {
  write(dir: string): Promise<H>;
  discard(): void;
}

/** The handles holding key groups of `range`: what a subtask restores from, whatever the old parallelism. */
export function keyedHandlesFor(handles: readonly KeyedStateHandle[], range: KeyGroupRange): KeyedStateHandle[] {
  return handles.filter((h) => h.keyGroupRange.start <= range.end && h.keyGroupRange.end >= range.start);
}
