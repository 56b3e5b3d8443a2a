import { mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type KeyGroupRange, type RiffleError, keyGroupOf, keyGroupRangeForSubtask } from "@riffle/shared";
import { AggregatingStateDescriptor, ListStateDescriptor, MapStateDescriptor, ReducingStateDescriptor, ValueStateDescriptor } from "@riffle/sdk";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type KeyedStateBackend, type KeyedStateHandle, createKeyedStateBackend, keyedHandlesFor } from "./index.js";
import { readKeyedSnapshot } from "./snapshot-format.js";

type BackendType = "memory" | "leveldb";
const MAX_P = 128;
const FULL: KeyGroupRange = { start: 0, end: MAX_P - 1 };

let root: string;
let seq = 0;
const backends: KeyedStateBackend[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "riffle-snap-"));
});
afterEach(async () => {
  while (backends.length > 0) await backends.pop()!.dispose();
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function backendOf(type: BackendType, range: KeyGroupRange = FULL, cacheMaxEntries = 1000): Promise<KeyedStateBackend> {
  const b = await createKeyedStateBackend({ type, maxParallelism: MAX_P, keyGroupRange: range, directory: join(root, `db-${seq++}`), cacheMaxEntries });
  backends.push(b);
  return b;
}

function freshDir(): string {
  return join(root, `chk-${seq++}`);
}

interface Acc {
  sum: number;
  n: number;
}

/** The states every test uses, and what key i holds in them. */
function statesOf(b: KeyedStateBackend) {
  return {
    count: b.getState(new ValueStateDescriptor<number>("count")),
    events: b.getListState(new ListStateDescriptor<number>("events")),
    attrs: b.getMapState(new MapStateDescriptor<string, unknown>("attrs")),
    sum: b.getReducingState(new ReducingStateDescriptor<number>("sum", (x, y) => x + y)),
    avg: b.getAggregatingState(
      new AggregatingStateDescriptor<number, Acc, number>("avg", {
        createAccumulator: () => ({ sum: 0, n: 0 }),
        add: (v, acc) => {
          acc.sum += v;
          acc.n++;
          return acc;
        },
        getResult: (acc) => acc.sum / acc.n,
      }),
    ),
  };
}

function expected(i: number) {
  const events = Array.from({ length: i % 4 }, (_, j) => i + j);
  return {
    count: i,
    events,
    attrs: [
      ["a", i],
      [`b${i}`, { nested: [i, `x${i}`] }],
    ],
    sum: events.reduce((x, y) => x + y, 0) || undefined,
    avg: events.length === 0 ? undefined : events.reduce((x, y) => x + y, 0) / events.length,
    window: -i - 1,
  };
}

function keyOf(i: number): string {
  return `user-${i}`;
}

function populate(b: KeyedStateBackend, keys: readonly number[]): void {
  const s = statesOf(b);
  for (const i of keys) {
    const e = expected(i);
    b.setCurrentKey(keyOf(i));
    s.count.update(e.count);
    for (const v of e.events) {
      s.events.add(v);
      s.sum.add(v);
      s.avg.add(v);
    }
    for (const [k, v] of e.attrs as [string, unknown][]) s.attrs.put(k, v);
    b.setCurrentNamespace("w");
    s.count.update(e.window);
    b.setCurrentNamespace("");
  }
}

function readBack(b: KeyedStateBackend, i: number) {
  const s = statesOf(b);
  b.setCurrentKey(keyOf(i));
  const out = { count: s.count.value(), events: s.events.get(), attrs: s.attrs.entries(), sum: s.sum.get(), avg: s.avg.get(), window: undefined as unknown };
  b.setCurrentNamespace("w");
  out.window = s.count.value();
  b.setCurrentNamespace("");
  return out;
}

function keysIn(range: KeyGroupRange, keys: readonly number[]): number[] {
  return keys.filter((i) => {
    const kg = keyGroupOf(keyOf(i), MAX_P);
    return kg >= range.start && kg <= range.end;
  });
}

/** Every (state, key, namespace) a snapshot file holds, as sorted strings. */
async function entriesOf(dir: string, handle: KeyedStateHandle): Promise<string[]> {
  const out: string[] = [];
  let names: string[] = [];
  await readKeyedSnapshot(dir, handle, handle.keyGroupRange, MAX_P, {
    onHeader: (states) => {
      names = [];
      for (const s of states) names[s.id] = s.name;
    },
    onEntry: (kg, id, key, ns) => {
      expect(keyGroupOf(key, MAX_P)).toBe(kg);
      out.push(`${names[id]}|${key}|${ns}`);
    },
  });
  return out.sort();
}

async function snapshotTo(b: KeyedStateBackend, dir = freshDir()): Promise<{ dir: string; handle: KeyedStateHandle }> {
  const handle = await b.snapshot().write(dir);
  return { dir, handle };
}

const KEYS = Array.from({ length: 3000 }, (_, i) => i);

describe("keyed snapshots", () => {
  for (const from of ["memory", "leveldb"] as const) {
    for (const to of ["memory", "leveldb"] as const) {
      it(`round-trips every state kind, ${from} → ${to}`, async () => {
        const source = await backendOf(from);
        populate(source, KEYS);
        const { dir, handle } = await snapshotTo(source);
        expect(handle.kind).toBe("keyed");
        expect(handle.path).toBe("keyed-0-127.bin");
        expect(handle.keyGroupRange).toEqual(FULL);
        expect(handle.keyGroupOffsets.length).toBe(MAX_P);
        const target = await backendOf(to);
        await target.restore(dir, [handle]);
        for (const i of KEYS) expect(readBack(target, i)).toEqual(expected(i));
        // The restored backend snapshots to the same content.
        const again = await snapshotTo(target);
        expect(await entriesOf(again.dir, again.handle)).toEqual(await entriesOf(dir, handle));
      });
    }
  }

  it("restores state registered before and after the restore under the same ids as by name", async () => {
    const source = await backendOf("memory");
    source.getState(new ValueStateDescriptor<string>("first"));
    const second = source.getState(new ValueStateDescriptor<string>("second"));
    source.setCurrentKey("k");
    second.update("2");
    const { dir, handle } = await snapshotTo(source);
    const target = await backendOf("leveldb");
    // Registered in another order: ids differ, names match.
    const again = target.getState(new ValueStateDescriptor<string>("second"));
    await target.restore(dir, [handle]);
    target.setCurrentKey("k");
    expect(again.value()).toBe("2");
    expect(target.getState(new ValueStateDescriptor<string>("first")).value()).toBeUndefined();
  });

  it("refuses a restored state asked for as another kind", async () => {
    const source = await backendOf("memory");
    populate(source, [1]);
    const { dir, handle } = await snapshotTo(source);
    const target = await backendOf("memory");
    await target.restore(dir, [handle]);
    expect(() => target.getListState(new ListStateDescriptor<number>("count"))).toThrow(/value state/);
  });

  for (const type of ["memory", "leveldb"] as const) {
    it(`${type}: a snapshot holds the state of its capture, whatever changes while it is written`, async () => {
      const b = await backendOf(type, FULL, 500);
      populate(b, KEYS);
      const reference = await snapshotTo(b);
      const dir = freshDir();
      const writing = b.snapshot().write(dir);
      // Change everything, in several turns of the event loop while the snapshot is written.
      const s = statesOf(b);
      for (let round = 0; round < 5; round++) {
        for (let i = round; i < KEYS.length; i += 5) {
          b.setCurrentKey(keyOf(i));
          s.count.update(-1);
          s.events.add(1000);
          s.avg.add(1000); // changes the accumulator in place
          s.attrs.remove("a");
          if (i % 3 === 0) s.sum.clear();
        }
        for (let i = 0; i < 100; i++) {
          b.setCurrentKey(`new-${round}-${i}`);
          s.count.update(i);
        }
        await new Promise((r) => setImmediate(r));
      }
      const handle = await writing;
      expect(await entriesOf(dir, handle)).toEqual(await entriesOf(reference.dir, reference.handle));
      const target = await backendOf(type === "memory" ? "leveldb" : "memory");
      await target.restore(dir, [handle]);
      for (const i of KEYS) expect(readBack(target, i)).toEqual(expected(i));
    });
  }

  it("discarding a capture releases it", async () => {
    for (const type of ["memory", "leveldb"] as const) {
      const b = await backendOf(type);
      populate(b, [1, 2, 3]);
      const capture = b.snapshot();
      capture.discard();
      await expect(capture.write(freshDir())).rejects.toThrow(/discarded/);
      populate(b, [4]);
      const { dir, handle } = await snapshotTo(b);
      expect((await entriesOf(dir, handle)).filter((e) => e.startsWith("count|"))).toHaveLength(8);
    }
  });
});

describe("rescaling keyed state", () => {
  async function oldSnapshots(type: BackendType, parallelism: number) {
    const handles: KeyedStateHandle[] = [];
    const dir = freshDir();
    for (let i = 0; i < parallelism; i++) {
      const range = keyGroupRangeForSubtask(i, parallelism, MAX_P);
      const b = await backendOf(type, range);
      populate(b, keysIn(range, KEYS));
      handles.push(await b.snapshot().write(dir));
    }
    return { dir, handles };
  }

  for (const [from, to] of [
    ["memory", "leveldb"],
    ["leveldb", "memory"],
    ["leveldb", "leveldb"],
  ] as const) {
    for (const newParallelism of [3, 1]) {
      it(`2 → ${newParallelism} keeps every key's state exactly (${from} → ${to})`, async () => {
        const old = await oldSnapshots(from, 2);
        expect(old.handles.map((h) => h.path)).toEqual(["keyed-0-63.bin", "keyed-64-127.bin"]);
        const all = new Set<string>();
        for (const h of old.handles) for (const e of await entriesOf(old.dir, h)) all.add(e);
        const seen: string[] = [];
        let keysSeen = 0;
        for (let i = 0; i < newParallelism; i++) {
          const range = keyGroupRangeForSubtask(i, newParallelism, MAX_P);
          const b = await backendOf(to, range);
          const handles = keyedHandlesFor(old.handles, range);
          await b.restore(old.dir, handles);
          const mine = keysIn(range, KEYS);
          for (const k of mine) expect(readBack(b, k)).toEqual(expected(k));
          keysSeen += mine.length;
          // Nothing else came along: the new subtask's own snapshot holds exactly its key groups' entries.
          const { dir, handle } = await snapshotTo(b);
          for (const e of await entriesOf(dir, handle)) seen.push(e);
        }
        expect(keysSeen).toBe(KEYS.length);
        expect(seen.sort()).toEqual([...all].sort());
      });
    }
  }

  it("reads only the key groups a subtask owns, with or without the handle's offsets", async () => {
    const old = await oldSnapshots("memory", 1);
    const range = keyGroupRangeForSubtask(1, 3, MAX_P);
    const withOffsets: string[] = [];
    const scanned: string[] = [];
    const collect = (out: string[]) => ({ onHeader: () => {}, onEntry: (kg: number, _id: number, key: string) => out.push(`${kg}|${key}`) });
    await readKeyedSnapshot(old.dir, old.handles[0]!, range, MAX_P, collect(withOffsets));
    const { keyGroupOffsets: _, ...noOffsets } = old.handles[0]!;
    await readKeyedSnapshot(old.dir, noOffsets as KeyedStateHandle, range, MAX_P, collect(scanned));
    expect(scanned).toEqual(withOffsets);
    expect(withOffsets.length).toBeGreaterThan(0);
    for (const e of withOffsets) {
      const kg = Number(e.split("|")[0]);
      expect(kg >= range.start && kg <= range.end).toBe(true);
    }
  });
});

describe("bad snapshots", () => {
  async function oneSnapshot() {
    const b = await backendOf("memory");
    populate(b, KEYS.slice(0, 200));
    return snapshotTo(b);
  }

  async function restoreError(handle: KeyedStateHandle, dir: string, maxParallelism = MAX_P): Promise<RiffleError> {
    const b = await createKeyedStateBackend({ type: "memory", maxParallelism, keyGroupRange: { start: 0, end: maxParallelism - 1 } });
    try {
      await b.restore(dir, [handle]);
    } catch (err) {
      return err as RiffleError;
    }
    throw new Error("restore succeeded");
  }

  it("refuses a missing file", async () => {
    const { dir, handle } = await oneSnapshot();
    const err = await restoreError({ ...handle, path: "nope.bin" }, dir);
    expect(err.code).toBe("STATE_RESTORE_FAILED");
    expect(err.message).toContain("file not found");
  });

  it("refuses a truncated file", async () => {
    const { dir, handle } = await oneSnapshot();
    await truncate(join(dir, handle.path), handle.size - 10);
    const err = await restoreError(handle, dir);
    expect(err.code).toBe("STATE_RESTORE_FAILED");
    expect(err.message).toContain("truncated");
  });

  it("refuses a file that is not a snapshot", async () => {
    const { dir, handle } = await oneSnapshot();
    const bytes = await readFile(join(dir, handle.path));
    bytes.fill(0x41, 0, 4);
    await writeFile(join(dir, handle.path), bytes);
    expect((await restoreError(handle, dir)).message).toContain("not a keyed snapshot file");
  });

  it("refuses corrupt frames", async () => {
    const { dir, handle } = await oneSnapshot();
    const bytes = await readFile(join(dir, handle.path));
    const [, offset] = handle.keyGroupOffsets[3]!;
    bytes.fill(0xc1, offset + 6, offset + 40); // 0xc1 is never used in msgpack
    await writeFile(join(dir, handle.path), bytes);
    const err = await restoreError(handle, dir);
    expect(err.code).toBe("STATE_RESTORE_FAILED");
  });

  it("refuses another max parallelism", async () => {
    const { dir, handle } = await oneSnapshot();
    const err = await restoreError(
      { ...handle, keyGroupRange: { start: 0, end: 63 }, keyGroupOffsets: handle.keyGroupOffsets.filter(([kg]) => kg < 64) },
      dir,
      64,
    );
    expect(err.code).toBe("STATE_RESTORE_FAILED");
    expect(err.message).toContain("max parallelism 128");
  });
});
