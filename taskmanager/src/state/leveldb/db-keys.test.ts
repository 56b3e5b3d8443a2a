import { describe, expect, it } from "vitest";
import { type DbKeyParts, dbKey, decodeDbKey, keyGroupPrefix, keySuffix, parseDbKey, valueBytes, valueText } from "./db-keys.js";

describe("leveldb keys and values as text", () => {
  const keys = ["", "k1", "é", "日本語", "😀 pair", "lone \ud800 surrogate", "a\u0000b", "x".repeat(0xd000 + 5), "y".repeat(70_000)];
  const namespaces = ["", "w", "ns with ünïcode", "\u0000"];

  it("parses back key group, state id, key and namespace, short and long", () => {
    const parts: DbKeyParts = { stateId: 0, keyStart: 0, keyEnd: 0 };
    for (const keyGroup of [0, 1, 127, 32767]) {
      for (const stateId of [0, 1, 127, 0xcfff, 0xd000, 0xffff]) {
        for (const key of keys) {
          for (const namespace of namespaces) {
            const text = dbKey(keyGroup, stateId, keySuffix(key, namespace));
            expect(decodeDbKey(text)).toEqual({ keyGroup, stateId, key, namespace });
            expect(parseDbKey(text, parts)).toBe(keyGroup);
            expect(text.slice(parts.keyStart, parts.keyEnd)).toBe(key);
          }
        }
      }
    }
  });

  it("keeps key groups in order as UTF-8 bytes, so a range is one scan", () => {
    const groups = [0, 1, 2, 94, 95, 96, 127, 128, 2047, 2048, 32766, 32767];
    const encoded = groups.map((g) => Buffer.from(dbKey(g, 0xffff, keySuffix("\u{10ffff}".repeat(3), "\uffff")), "utf8"));
    for (let i = 1; i < groups.length; i++) {
      expect(Buffer.compare(encoded[i - 1]!, encoded[i]!)).toBe(-1);
      // Every key of a group sorts between its prefix and the next group's.
      expect(Buffer.compare(Buffer.from(keyGroupPrefix(groups[i - 1]!), "utf8"), encoded[i - 1]!)).toBe(-1);
      expect(Buffer.compare(encoded[i - 1]!, Buffer.from(keyGroupPrefix(groups[i - 1]! + 1), "utf8"))).toBe(-1);
    }
  });

  it("keeps value bytes exactly, as valid UTF-8", () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const text = valueText(bytes);
    expect(text.length).toBe(256);
    // What LevelDB stores and gives back.
    const stored = Buffer.from(text, "utf8").toString("utf8");
    expect([...valueBytes(stored)]).toEqual([...bytes]);
  });
});
