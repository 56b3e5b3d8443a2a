import { describe, expect, it } from "vitest";
import { type OperatorStatePartition, evenSplit, redistributeOperatorState } from "./redistribute.js";

/** mulberry32: a small seeded generator, so every run checks the same cases. */
function seeded(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** Old subtasks with a split list "offsets" and a union list "shared", elements unique across subtasks. */
function oldState(random: (n: number) => number): OperatorStatePartition[] {
  const parallelism = 1 + random(8);
  let next = 0;
  return Array.from({ length: parallelism }, (_, subtask) => {
    const partition: OperatorStatePartition = new Map();
    partition.set("offsets", { mode: "split", elements: Array.from({ length: random(12) }, () => `s${subtask}-${next++}`) });
    if (random(4) !== 0) partition.set("shared", { mode: "union", elements: Array.from({ length: random(5) }, () => next++) });
    return partition;
  });
}

describe("evenSplit", () => {
  it("splits into contiguous chunks whose sizes differ by at most one, larger first", () => {
    expect(evenSplit([1, 2, 3, 4, 5, 6, 7], 3)).toEqual([
      [1, 2, 3],
      [4, 5],
      [6, 7],
    ]);
    expect(evenSplit([1, 2], 4)).toEqual([[1], [2], [], []]);
    expect(evenSplit([], 2)).toEqual([[], []]);
    expect(() => evenSplit([1], 0)).toThrow();
  });
});

describe("redistributeOperatorState", () => {
  it("even split: every element exactly once, in order, in contiguous near-equal chunks (random sizes)", () => {
    const random = seeded(42);
    for (let trial = 0; trial < 500; trial++) {
      const previous = oldState(random);
      const parallelism = 1 + random(9);
      const result = redistributeOperatorState(previous, parallelism);
      expect(result).toHaveLength(parallelism);
      const all = previous.flatMap((p) => p.get("offsets")!.elements);
      const chunks = result.map((p) => p.get("offsets")?.elements ?? []);
      for (const p of result) expect(p.get("offsets")?.mode).toBe("split");
      // Concatenated in subtask order, the chunks are the old elements in old-subtask order.
      expect(chunks.flat()).toEqual(all);
      if (parallelism === previous.length) {
        // Unchanged parallelism: each subtask keeps its own list.
        chunks.forEach((c, i) => expect(c).toEqual(previous[i]!.get("offsets")!.elements));
      } else {
        const sizes = chunks.map((c) => c.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        for (let i = 1; i < sizes.length; i++) expect(sizes[i]!).toBeLessThanOrEqual(sizes[i - 1]!);
      }
    }
  });

  it("union: every new subtask gets every element of every old subtask (random sizes)", () => {
    const random = seeded(7);
    for (let trial = 0; trial < 500; trial++) {
      const previous = oldState(random);
      const parallelism = 1 + random(9);
      const result = redistributeOperatorState(previous, parallelism);
      const all = previous.flatMap((p) => p.get("shared")?.elements ?? []);
      const hasUnion = previous.some((p) => p.has("shared"));
      for (const p of result) {
        if (!hasUnion) {
          expect(p.has("shared")).toBe(false);
          continue;
        }
        expect(p.get("shared")).toEqual({ mode: "union", elements: all });
      }
      // Each subtask gets its own copy.
      if (hasUnion && parallelism > 1) expect(result[0]!.get("shared")!.elements).not.toBe(result[1]!.get("shared")!.elements);
    }
  });

  it("refuses a name used with both modes", () => {
    const a: OperatorStatePartition = new Map([["x", { mode: "split", elements: [1] }]]);
    const b: OperatorStatePartition = new Map([["x", { mode: "union", elements: [2] }]]);
    expect(() => redistributeOperatorState([a, b], 2)).toThrow(/both split and union/);
  });

  it("handles no old state", () => {
    expect(redistributeOperatorState([], 3)).toEqual([new Map(), new Map(), new Map()]);
  });
});
