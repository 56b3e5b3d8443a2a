import { describe, expect, it } from "vitest";
import { decodeBatch, decodeTimestampedData, encodeBatch, encodeTimestampedData } from "./codec.js";

describe("timestamped batches", () => {
  const records = [{ a: 1 }, "b", 3];
  const timestamps = [1_700_000_000_123, Number.NaN, -5];

  it("round-trip records and timestamps, NaN (no timestamp) included", () => {
    const bytes = encodeTimestampedData(encodeBatch(records), timestamps);
    expect(bytes.length).toBe(8 + 8 * 3 + encodeBatch(records).length);
    const { data, timestamps: ts } = decodeTimestampedData(bytes);
    expect(decodeBatch(data)).toEqual(records);
    expect([...ts]).toEqual(timestamps);
  });

  it("decode at any offset of a larger buffer, as received bytes often are", () => {
    const bytes = encodeTimestampedData(encodeBatch(records), timestamps);
    for (const offset of [1, 3, 8]) {
      const host = Buffer.alloc(offset + bytes.length);
      bytes.copy(host, offset);
      const { data, timestamps: ts } = decodeTimestampedData(host.subarray(offset));
      expect(decodeBatch(data)).toEqual(records);
      expect([...ts]).toEqual(timestamps);
    }
  });

  it("refuse payloads too short for their header or their timestamps", () => {
    expect(() => decodeTimestampedData(Buffer.alloc(4))).toThrow(/no header/);
    const short = encodeTimestampedData(Buffer.alloc(0), [1, 2]).subarray(0, 20);
    expect(() => decodeTimestampedData(short)).toThrow(/cannot hold 2 timestamps/);
  });
});
