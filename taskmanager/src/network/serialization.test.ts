import { describe, expect, it } from "vitest";
import { NetworkBufferPool } from "./buffer-pool.js";
import { ResultPartition } from "./result-partition.js";
import { type DecodedRecords, FRAME_RECORD, HEADER_BYTES, RecordDeserializer, writeHeader } from "./serialization.js";
import { writerOf } from "../testing/exchange-harness.js";
import { prng } from "../testing/prng.js";

/** Writes `records` through a real writer into segments of `segmentSize` and returns the segments' bytes. */
function streamOf(records: Array<{ value: unknown; ts?: number | undefined }>, segmentSize: number): Buffer[] {
  const pool = new NetworkBufferPool(100_000, segmentSize);
  const partition = new ResultPartition("p", 1, pool, () => {});
  const writer = writerOf(partition, "forward", 1_000_000);
  const sub = partition.subpartitions[0]!;
  const parts: Buffer[] = [];
  for (const r of records) {
    writer.collect(r.value, r.ts);
    for (let b = sub.poll(); b; b = sub.poll()) {
      if (b.type === "DATA") {
        parts.push(Buffer.from(b.segment.subarray(0, b.length)));
        sub.recycle(b.segment);
      }
    }
  }
  writer.flush();
  for (let b = sub.poll(); b; b = sub.poll()) if (b.type === "DATA") parts.push(Buffer.from(b.segment.subarray(0, b.length)));
  return parts;
}

describe("record frames", () => {
  const random = prng(7);
  // Records of 40 different shapes (more than msgpackr's 32 shared structures), some large, some timestamped.
  const records = Array.from({ length: 400 }, (_, i) => {
    const shape = i % 40;
    const value: Record<string, unknown> = { [`k${shape}`]: i, text: "t".repeat(Math.floor(random() * (i % 50 === 0 ? 5000 : 50))) };
    if (shape % 3 === 0) value.nested = { a: [i, `x${i}`], b: null };
    return { value, ts: i % 4 === 0 ? 1_700_000_000_000 + i : undefined };
  });

  it("decode to the same records and timestamps, segment by segment or merged as a sender merges them", () => {
    const segments = streamOf(records, 256);
    expect(segments.length).toBeGreaterThan(100);
    for (const seed of [0, 1, 2, 3]) {
      const rnd = prng(seed);
      const deserializer = new RecordDeserializer("test");
      const out: DecodedRecords = { records: [], timestamps: undefined };
      // Seed 0: one segment per buffer; others: runs of 1..4 consecutive segments in one buffer.
      for (let i = 0; i < segments.length; ) {
        const n = seed === 0 ? 1 : 1 + Math.floor(rnd() * 4);
        deserializer.decode(Buffer.concat(segments.slice(i, i + n)), out);
        i += n;
      }
      expect(out.records).toEqual(records.map((r) => r.value));
      expect(out.timestamps!.map((t) => (Number.isNaN(t) ? undefined : t))).toEqual(records.map((r) => r.ts));
    }
  });

  it("decode binary values as copies: the bytes read may be overwritten once decoded (a segment back in the pool)", () => {
    // A record frame holding msgpack bin 8 [1, 2, 3] (as msgpackr writes a Buffer under Node).
    const payload = [0xc4, 3, 1, 2, 3];
    const segment = Buffer.alloc(HEADER_BYTES + payload.length);
    Buffer.from(payload).copy(segment, writeHeader(segment, 0, FRAME_RECORD, payload.length, undefined));
    const out: DecodedRecords = { records: [], timestamps: undefined };
    new RecordDeserializer("test").decode(segment, out);
    segment.fill(0xee);
    expect(Array.from(out.records[0] as Uint8Array)).toEqual([1, 2, 3]);
  });

  it("pack runs of small records into groups, one header per run, timestamped or not", () => {
    // Runs of 1..30 records, with and without timestamps, then and now a record too large for a group.
    const rnd = prng(11);
    const small: Array<{ value: unknown; ts?: number | undefined }> = [];
    while (small.length < 3000) {
      const timestamped = rnd() < 0.5;
      const run = 1 + Math.floor(rnd() * 30);
      for (let j = 0; j < run; j++) {
        const i = small.length;
        const value = i % 97 === 0 ? { k: i, text: "y".repeat(200) } : { k: i, s: `v${i % 13}` };
        small.push({ value, ts: timestamped ? 1_700_000_000_000 + i : undefined });
      }
    }
    const segments = streamOf(small, 1024);
    const deserializer = new RecordDeserializer("test");
    const out: DecodedRecords = { records: [], timestamps: undefined };
    for (const s of segments) deserializer.decode(s, out);
    expect(out.records).toEqual(small.map((r) => r.value));
    expect(out.timestamps!.map((t) => (Number.isNaN(t) ? undefined : t))).toEqual(small.map((r) => r.ts));
    // The stream's frames: groups (kind 3, length in 29 bits), record structures (2), lone records (0, 1).
    const stream = Buffer.concat(segments);
    const kinds = [0, 0, 0, 0];
    for (let pos = 0; pos < stream.length; ) {
      const header = stream.readUInt32LE(pos);
      const kind = header >>> 30;
      kinds[kind]!++;
      pos += 4 + (kind === 3 ? header & (2 ** 29 - 1) : (header & (2 ** 30 - 1)) + (kind === 1 ? 8 : 0));
    }
    const large = small.filter((r) => (r.value as { text?: string }).text !== undefined).length;
    // A large record joins the open group when it fits in the rest of the segment, else goes alone.
    expect(kinds[0]! + kinds[1]!).toBeGreaterThan(0);
    expect(kinds[0]! + kinds[1]!).toBeLessThanOrEqual(large);
    expect(kinds[3]!).toBeLessThan(small.length / 5);
  });

  it("decode records written by the fast path for flat records exactly as those msgpackr writes", () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const values: unknown[] = [
      ...[0, 1, 0x1f, 0x20, 0x3f, 0x40, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 2 ** 32 - 1, 2 ** 32, 2 ** 53, -1, -32, -33, -128, -129],
      ...[-32768, -32769, -(2 ** 31), -(2 ** 31) - 1, 0.5, -1.25, Number.NaN, Number.POSITIVE_INFINITY, 1e300],
      ...["", "a", "k1234", "x".repeat(31), "a\u0000b", true, false, null],
      // Values the fast path leaves to msgpackr (after one, the shape goes to msgpackr for a while).
      ...["x".repeat(32), "é", "日本", undefined, [1, 2], { nested: 1 }, new Date(0), 10n],
    ];
    const records: Array<{ value: unknown; ts?: number }> = [];
    for (const v of values) {
      // Each value in a shape seen before (the fast path), in first place and last, then a new shape.
      records.push({ value: { key: "k", v } }, { value: { key: "k", v } }, { value: { v, key: "k" } });
    }
    records.push({ value: new Point(1, 2) }, { value: { x: 1, y: 2 } }, { value: new Point(3, 4) }, { value: { x: 5, y: 6, z: 7 } });
    const segments = streamOf(records, 512);
    const deserializer = new RecordDeserializer("test");
    const out: DecodedRecords = { records: [], timestamps: undefined };
    for (const s of segments) deserializer.decode(s, out);
    // msgpackr writes a class instance as a plain object; the rest comes back as it was.
    expect(out.records).toEqual(records.map((r) => (r.value instanceof Point ? { ...r.value } : r.value)));
  });

  it("fail with a clear error on bytes that are not frames", () => {
    const deserializer = new RecordDeserializer("partition p[0]");
    const out: DecodedRecords = { records: [], timestamps: undefined };
    expect(() => deserializer.decode(Buffer.from([0xff, 0xff, 0xff, 0xff]), out)).toThrow(
      /undecodable data from partition p\[0\]: a record group of 536870911 bytes is cut off after 0/,
    );
    expect(() => new RecordDeserializer("c").decode(Buffer.from([1, 2]), out)).toThrow(
      /undecodable data from c: 2 bytes left where a frame header was expected/,
    );
  });
});
