import { murmur3Utf8 } from "@riffle/shared";
import { describe, expect, it } from "vitest";
import type { Row } from "./pending-snapshot.js";
import { RowTable } from "./row-table.js";

const row = (key: string): Row => ({ key, namespace: "", keyGroup: 0, first: key, rest: undefined, live: 1, epoch: 0 });

describe("RowTable", () => {
  it("finds, adds and deletes rows as a Map does, through growth and deletions in probe chains", () => {
    const table = new RowTable();
    const reference = new Map<string, Row>();
    // Deterministic operations over few keys, so chains, wrap-around and deletions in them happen.
    let x = 12345;
    const next = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x >>> 0;
    };
    let mismatches = 0;
    for (let op = 0; op < 100_000; op++) {
      const key = `k${next() % 3000}`;
      const hash = murmur3Utf8(key);
      const had = reference.get(key);
      if (table.get(key, hash) !== had) mismatches++;
      if (had === undefined) {
        const r = row(key);
        table.add(hash, r);
        reference.set(key, r);
      } else if (next() % 2 === 0) {
        table.delete(hash, had);
        reference.delete(key);
      }
      if (table.size !== reference.size) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(new Set(table.values())).toEqual(new Set(reference.values()));
    for (const [key, r] of reference) expect(table.get(key, murmur3Utf8(key))).toBe(r);
  });

  it("tells apart keys of the same hash", () => {
    const table = new RowTable();
    const a = row("a");
    const b = row("b");
    table.add(7, a);
    table.add(7, b);
    expect(table.get("a", 7)).toBe(a);
    expect(table.get("b", 7)).toBe(b);
    expect(table.get("c", 7)).toBeUndefined();
    table.delete(7, a);
    expect(table.get("a", 7)).toBeUndefined();
    expect(table.get("b", 7)).toBe(b);
  });

  it("deletes an absent key without effect", () => {
    const table = new RowTable();
    const a = row("a");
    table.add(1, a);
    table.delete(1, row("b"));
    table.delete(2, row("c"));
    expect(table.size).toBe(1);
    expect(table.get("a", 1)).toBe(a);
  });
});
