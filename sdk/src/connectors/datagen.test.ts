import { describe, expect, it } from "vitest";
import type { RuntimeContext } from "../api/functions.js";
import { DatagenSource } from "./datagen.js";

const ctx = (subtaskIndex: number, parallelism: number) => ({ subtaskIndex, parallelism }) as RuntimeContext;

/** Runs subtask readers round-robin, `per` records at a time, until `stopAt` records were emitted in all. */
function run(source: DatagenSource<number>, parallelism: number, restored: unknown[] | undefined, stopAt: number) {
  const readers = Array.from({ length: parallelism }, (_, i) => source.createReader(ctx(i, parallelism), restored));
  const out: number[] = [];
  const output = { collect: (r: number) => out.push(r) };
  let active = true;
  while (active && out.length < stopAt) {
    active = false;
    for (const [i, r] of readers.entries()) {
      // Uneven progress: subtask i emits i+1 records per round.
      if (r.pollNext(output, i + 1) !== "END_OF_INPUT") active = true;
    }
  }
  return { out, state: readers.flatMap((r) => r.snapshotState!(1)) };
}

describe("datagen positions", () => {
  it("restores at any parallelism without losing or repeating a record", () => {
    const source = new DatagenSource<number>({ count: 2000, generator: (i) => i });
    for (const [p1, p2, p3] of [
      [2, 3, 1],
      [3, 1, 2],
      [1, 4, 4],
      [4, 2, 3],
    ] as const) {
      const a = run(source, p1, undefined, 300);
      const b = run(source, p2, a.state, 700);
      const c = run(source, p3, b.state, Number.POSITIVE_INFINITY);
      const all = [...a.out, ...b.out, ...c.out].sort((x, y) => x - y);
      expect(all).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    }
  });
});
