import { describe, expect, it } from "vitest";
import { MalformedRequestError, Reader, Writer } from "./wire.js";

describe("wire Reader and Writer", () => {
  it("round-trips classic and compact (flexible) encodings", () => {
    for (const flexible of [false, true]) {
      const w = new Writer(flexible)
        .int8(-3)
        .int16(-300)
        .int32(70_000)
        .int64(2 ** 40 + 5)
        .nullableString(null)
        .string("héllo")
        .bytes(Buffer.from([1, 2, 3]))
        .array([5, -6], (w, v) => w.varint(v))
        .varlong(-(2 ** 35))
        .taggedFields();
      const r = new Reader(w.toBuffer(), 0, undefined, flexible);
      expect([r.int8(), r.int16(), r.int32(), r.int64(), r.nullableString(), r.string()]).toEqual([-3, -300, 70_000, 2 ** 40 + 5, null, "héllo"]);
      expect(r.bytes()).toEqual(Buffer.from([1, 2, 3]));
      expect(r.array((r) => r.varint())).toEqual([5, -6]);
      expect(r.varlong()).toBe(-(2 ** 35));
      r.taggedFields();
      expect(r.remaining).toBe(0);
    }
  });

  it("keeps large byte blocks as chunks of their own instead of copying them", () => {
    const block = Buffer.alloc(10_000, 7);
    const chunks = new Writer().int32(block.length).raw(block).int16(1).finish();
    expect(chunks).toHaveLength(3);
    expect(chunks[1]).toBe(block);
  });

  it("refuses lengths and counts that run past the end of the request", () => {
    const read = (bytes: number[], f: (r: Reader) => unknown) => () => f(new Reader(Buffer.from(bytes)));
    expect(read([0, 10, 65], (r) => r.string())).toThrow(MalformedRequestError); // 10 bytes announced, 1 there
    expect(read([0x7f, 0xff, 0xff, 0xff], (r) => r.array((r) => r.int8()))).toThrow(/array of 2147483647 elements/);
    expect(read([0, 0, 0, 2, 0], (r) => r.array((r) => r.int32()))).toThrow(MalformedRequestError);
    expect(read([0xff, 0xff, 0xff, 0xff, 0xff, 0x01], (r) => r.uvarint())).toThrow(/longer than 5 bytes/);
    expect(read([0xff, 0xfe], (r) => r.nullableString())).toThrow(/string length -2/); // only -1 means null
    expect(read([0, 1], (r) => r.int32())).toThrow(MalformedRequestError);
  });
});
