import { describe, expect, it } from "vitest";
import { keyGroupOf, keyGroupRangeForSubtask, murmur3, murmur3Utf8, operatorIndexForKeyGroup } from "./keygroups.js";

describe("key groups", () => {
  it("murmur3 matches the reference x86_32 vectors", () => {
    const enc = (s: string) => Buffer.from(s, "utf8");
    expect(murmur3(enc(""))).toBe(0);
    expect(murmur3(enc("hello"))).toBe(0x248bfa47);
    expect(murmur3(enc("The quick brown fox jumps over the lazy dog"))).toBe(0x2e4ff723);
    expect(murmur3(enc("abc"), 3, 0)).toBe(0xb3dd93fa);
  });

  it("hashes strings exactly as their UTF-8 bytes, including multi-byte and lone surrogates", () => {
    const samples = [
      "",
      "a",
      "ab",
      "abc",
      "abcd",
      "abcde",
      "k12345",
      "grüße",
      "日本語のキー",
      "emoji 🎉 key",
      "lone \ud800 high",
      "lone \udc00 low",
      "x".repeat(1000),
      // Non-ASCII characters in the last one to three characters, where the ASCII path reads the
      // tail: 0x80 and 0x100 must leave it for the encoding path.
      "\u0080",
      "a\u0100",
      "abcd\u0100",
      "abcdef\u0080",
      "abcdefg\u00e9",
    ];
    for (const s of samples) expect(murmur3Utf8(s)).toBe(murmur3(Buffer.from(s, "utf8")));
  });

  it("ranges cover every key group once and agree with the operator index", () => {
    for (const [p, maxP] of [
      [1, 128],
      [3, 128],
      [7, 10],
      [128, 128],
    ] as const) {
      const owner: number[] = [];
      for (let i = 0; i < p; i++) {
        const r = keyGroupRangeForSubtask(i, p, maxP);
        for (let kg = r.start; kg <= r.end; kg++) owner[kg] = i;
      }
      expect(owner.length).toBe(maxP);
      owner.forEach((subtask, kg) => expect(operatorIndexForKeyGroup(kg, p, maxP)).toBe(subtask));
    }
  });

  it("is stable for equal keys of any type", () => {
    expect(keyGroupOf("user-1", 128)).toBe(keyGroupOf("user-1", 128));
    expect(keyGroupOf(42, 128)).toBe(keyGroupOf("42", 128));
    expect(keyGroupOf(["a", 1], 128)).toBe(keyGroupOf(["a", 1], 128));
  });
});
