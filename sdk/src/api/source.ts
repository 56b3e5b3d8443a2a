import type { RuntimeContext } from "./functions.js";

/**
 * A source, after Flink's FLIP-27 reader: the task calls `pollNext` in its mailbox loop whenever its
 * outputs have room, so a source never outruns back-pressure; a reader that has nothing right now
 * returns NOTHING_AVAILABLE and resolves `isAvailable()` when it has.
 */
export type Boundedness = "bounded" | "unbounded";

export type PollResult = "MORE_AVAILABLE" | "NOTHING_AVAILABLE" | "END_OF_INPUT";

export interface ReaderOutput<T> {
  collect(record: T): void;
}

export interface SourceReader<T> {
  start?(): void | Promise<void>;
  /** Emits at most `max` records into `output` and says whether more may follow. Must not block. */
  pollNext(output: ReaderOutput<T>, max: number): PollResult;
  /** Resolves when `pollNext` may emit again after it returned NOTHING_AVAILABLE. */
  isAvailable(): Promise<void>;
  close?(): void | Promise<void>;
}

export interface Source<T> {
  readonly boundedness: Boundedness;
  /** A source that cannot run in parallel (e.g. a collection) reports 1. */
  readonly maxParallelism?: number;
  createReader(ctx: RuntimeContext): SourceReader<T>;
}
