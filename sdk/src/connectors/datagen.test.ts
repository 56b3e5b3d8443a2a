import { describe, expect, it, vi } from "vitest";
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

describe("datagen pending records", () => {
  it("counts what is left of a bounded count, and knows nothing of an unbounded one without a rate", () => {
    const bounded = new DatagenSource<number>({ count: 10, generator: (i) => i }).createReader(ctx(1, 2));
    expect(bounded.pendingRecords!()).toBe(5);
    bounded.pollNext({ collect: () => {} } as never, 2);
    expect(bounded.pendingRecords!()).toBe(3);
    expect(new DatagenSource<number>({ generator: (i) => i }).createReader(ctx(0, 1)).pendingRecords!()).toBeUndefined();
  });

  it("counts the backlog a rate made due and the pipeline did not take yet", () => {
    vi.useFakeTimers({ toFake: ["performance"] });
    try {
      const reader = new DatagenSource<number>({ generator: (i) => i, ratePerSecond: 1_000 }).createReader(ctx(0, 2));
      reader.start!();
      vi.advanceTimersByTime(1_000);
      // 500 records/s for this subtask: 501 due after 1 s (the first at once), none emitted.
      expect(reader.pendingRecords!()).toBe(501);
      reader.pollNext({ collect: () => {} } as never, 400);
      expect(reader.pendingRecords!()).toBe(101);
      reader.pollNext({ collect: () => {} } as never, 1_000);
      expect(reader.pendingRecords!()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
