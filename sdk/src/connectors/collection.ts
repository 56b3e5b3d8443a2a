import type { PollResult, ReaderOutput, Source, SourceReader } from "../api/source.js";

/** A bounded source of in-memory elements. Not parallel: the elements are emitted in order by one subtask. */
export class CollectionSource<T> implements Source<T> {
  readonly boundedness = "bounded";
  readonly maxParallelism = 1;

  constructor(readonly elements: readonly T[]) {}

  createReader(_ctx: unknown, restored?: unknown[]): SourceReader<T> {
    const elements = this.elements;
    let next = restored && restored.length > 0 ? (restored[0] as { next: number }).next : 0;
    return {
      snapshotState: () => [{ next }],
      pollNext(output: ReaderOutput<T>, max: number): PollResult {
        const end = Math.min(elements.length, next + max);
        while (next < end) output.collect(elements[next++]!);
        return next < elements.length ? "MORE_AVAILABLE" : "END_OF_INPUT";
      },
      isAvailable: () => Promise.resolve(),
    };
  }
}
