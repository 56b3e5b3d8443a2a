import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { RuntimeContext } from "../api/functions.js";
import type { SourceReader } from "../api/source.js";
import { TextFileSource } from "./text-file.js";

const dir = mkdtempSync(join(tmpdir(), "riffle-text-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ctx = (subtaskIndex: number, parallelism: number) => ({ subtaskIndex, parallelism }) as RuntimeContext;

/** Reads with every subtask until each has emitted `limit` lines (or ended); returns lines and positions. */
async function read(source: TextFileSource, parallelism: number, restored: unknown[][] | undefined, limit: number) {
  const readers: SourceReader<string>[] = [];
  for (let i = 0; i < parallelism; i++) {
    const r = source.createReader(ctx(i, parallelism), restored?.[i]);
    await r.start?.();
    readers.push(r);
  }
  const lines: string[] = [];
  for (const r of readers) {
    let n = 0;
    const out = {
      collect: (l: string) => {
        lines.push(l);
        n++;
      },
    };
    for (;;) {
      const res = r.pollNext(out, 7);
      if (res === "END_OF_INPUT" || n >= limit) break;
      if (res === "NOTHING_AVAILABLE") await r.isAvailable();
    }
  }
  const positions = readers.flatMap((r) => r.snapshotState!(1));
  for (const r of readers) await r.close?.();
  return { lines, positions };
}

/** Split state: contiguous shares of all old positions, as the runtime hands them out. */
function split(all: unknown[], parallelism: number): unknown[][] {
  return Array.from({ length: parallelism }, (_, i) => all.slice(Math.floor((all.length * i) / parallelism), Math.floor((all.length * (i + 1)) / parallelism)));
}

describe("text file positions", () => {
  it("every line is read exactly once across restores at other parallelisms", async () => {
    const expected = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${"é".repeat(i % 7)} ${"x".repeat(i % 53)}`);
    const file = join(dir, "lines.txt");
    writeFileSync(file, `${expected.join("\n")}\n`);
    const source = new TextFileSource(file);
    for (const [p1, p2, p3] of [
      [2, 3, 1],
      [3, 1, 2],
      [1, 2, 4],
    ] as const) {
      const a = await read(source, p1, undefined, 2000);
      const b = await read(source, p2, split(a.positions, p2), 3000);
      const c = await read(source, p3, split(b.positions, p3), Number.POSITIVE_INFINITY);
      expect([...a.lines, ...b.lines, ...c.lines].sort()).toEqual([...expected].sort());
    }
  });
});
