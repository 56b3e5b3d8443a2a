import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeValue } from "@riffle/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FRAME_ENTRIES, KeyedSnapshotWriter, readKeyedSnapshot } from "./snapshot-format.js";
import type { StateMeta } from "./state-meta.js";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "riffle-format-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const RANGE = { start: 0, end: 9 };
const STATES: StateMeta[] = [
  { id: 0, name: "a", kind: "value", ttl: false },
  { id: 200, name: "b", kind: "list", ttl: true },
  { id: 0xffff, name: "c", kind: "map", ttl: false },
];

interface Entry {
  keyGroup: number;
  stateId: number;
  key: string;
  namespace: string;
  value: Buffer;
}

function entries(): Entry[] {
  const keys = ["", "k", "é", "日本語", "😀", "x".repeat(31), "y".repeat(32), "ü".repeat(40), "z".repeat(100), "中".repeat(30_000)];
  const values = [1, "s", "v".repeat(300), Buffer.alloc(70_000, 7), { nested: [1, "two", null] }, new Map([["m", 1]])];
  const out: Entry[] = [];
  let n = 0;
  for (const keyGroup of [0, 3, 9]) {
    for (const key of keys) {
      for (const namespace of ["", "w", "ñ"]) {
        const stateId = STATES[n % STATES.length]!.id;
        out.push({ keyGroup, stateId, key, namespace, value: encodeValue(values[n % values.length]) });
        n++;
      }
    }
  }
  // More than a frame of one key group.
  for (let i = 0; i < FRAME_ENTRIES * 2 + 10; i++) out.push({ keyGroup: 9, stateId: 0, key: `many-${i}`, namespace: "", value: encodeValue(i) });
  return out;
}

/** Entries as strings: deep equality of many large Buffers is slow. */
const flat = (list: Entry[]) => list.map((e) => `${e.keyGroup}|${e.stateId}|${e.key}|${e.namespace}|${e.value.toString("base64")}`);

async function read(dir: string, handle: Awaited<ReturnType<KeyedSnapshotWriter["finish"]>>, range = RANGE) {
  const out: Entry[] = [];
  let states: StateMeta[] = [];
  await readKeyedSnapshot(dir, handle, range, 128, {
    onHeader: (s) => {
      states = s;
    },
    onEntry: (keyGroup, stateId, key, namespace, value) => out.push({ keyGroup, stateId, key, namespace, value: Buffer.from(value) }),
  });
  return { states, entries: out };
}

describe("keyed snapshot writer", () => {
  it("writes the same entries entry by entry as in groups, read back exactly", async () => {
    const all = entries();
    const byGroups = join(root, "groups");
    const groups = await KeyedSnapshotWriter.create(byGroups, RANGE, 128, STATES);
    for (const kg of [0, 3, 9]) {
      const flat = all.filter((e) => e.keyGroup === kg).flatMap((e) => [e.stateId, e.key, e.namespace, e.value]);
      for (let i = 0; i < flat.length; i += FRAME_ENTRIES * 4) await groups.writeGroup(kg, flat.slice(i, i + FRAME_ENTRIES * 4));
    }
    const groupsHandle = await groups.finish();

    const byEntries = join(root, "entries");
    const writer = await KeyedSnapshotWriter.create(byEntries, RANGE, 128, STATES);
    let drained = 0;
    for (const e of all) {
      // The key and the namespace as a backend has them: inside a longer text.
      const text = `##${e.key}${e.namespace}`;
      writer.addEntry(e.keyGroup, e.stateId, text, 2, 2 + e.key.length, e.value.toString("latin1"));
      if (writer.needsDrain()) {
        await writer.drain();
        drained++;
      }
    }
    const entriesHandle = await writer.finish();
    expect(drained).toBeGreaterThan(0);

    expect(entriesHandle.keyGroupOffsets.map(([kg]) => kg)).toEqual([0, 3, 9]);
    const a = await read(byGroups, groupsHandle);
    const b = await read(byEntries, entriesHandle);
    expect(b.states).toEqual(STATES);
    expect(flat(b.entries)).toEqual(flat(all));
    expect(flat(a.entries)).toEqual(flat(all));
    // Each key group on its own, from the offsets.
    for (const kg of [0, 3, 9]) {
      const one = await read(byEntries, entriesHandle, { start: kg, end: kg });
      expect(flat(one.entries)).toEqual(flat(all.filter((e) => e.keyGroup === kg)));
    }
    expect(entriesHandle.size).toBe((await readFile(join(byEntries, entriesHandle.path))).length);
  });

  it("refuses key groups out of order or out of range", async () => {
    const writer = await KeyedSnapshotWriter.create(join(root, "order"), RANGE, 128, STATES);
    writer.addEntry(3, 0, "k", 0, 1, "\u0001");
    expect(() => writer.addEntry(2, 0, "k", 0, 1, "\u0001")).toThrow(/out of order/);
    expect(() => writer.addEntry(10, 0, "k", 0, 1, "\u0001")).toThrow(/outside/);
    await writer.abort();
  });
});
