import { Packr, Unpackr } from "msgpackr";
import { RiffleError } from "./errors.js";

/**
 * The record codec: one buffer carries a batch of records encoded by msgpackr with record structures
 * (measured on these machines at ~1.9M rec/s encode and ~8.7M rec/s decode per 1024-record batch; JSON
 * is ~3x slower). Each batch is self-describing, so a buffer decodes without any earlier one.
 */
const packr = new Packr({ useRecords: true, moreTypes: true });
const unpackr = new Unpackr({ useRecords: true, moreTypes: true });

export function encodeBatch(records: readonly unknown[]): Buffer {
  return packr.pack(records);
}

/** Decodes a buffer: one batch, or several batches written back to back (sent on one credit). */
export function decodeBatch(bytes: Uint8Array): unknown[] {
  const batches = unpackr.unpackMultiple(bytes) as unknown[];
  if (batches.length === 1) {
    const only = batches[0];
    if (!Array.isArray(only)) throw new Error("record batch is not an array");
    return only;
  }
  const out: unknown[] = [];
  for (const b of batches) {
    if (!Array.isArray(b)) throw new Error("record batch is not an array");
    for (let i = 0; i < b.length; i++) out.push(b[i]);
  }
  return out;
}

/** Encodes one value (events, control payloads). */
export function encodeValue(value: unknown): Buffer {
  return packr.pack(value);
}

export function decodeValue<T = unknown>(bytes: Uint8Array): T {
  return unpackr.unpack(bytes) as T;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The event timestamps of a batch, one per record, as float64 little-endian (8 bytes each); NaN marks
 * a record without a timestamp. Raw doubles rather than msgpack: the size is fixed per record, and
 * decoding is a view over the received bytes (or one copy) instead of a parse.
 */
export function encodeTimestamps(timestamps: ArrayLike<number>): Buffer {
  const n = timestamps.length;
  if (LITTLE_ENDIAN) {
    const doubles = new Float64Array(n);
    doubles.set(timestamps);
    return Buffer.from(doubles.buffer, 0, n * 8);
  }
  const out = Buffer.alloc(n * 8);
  for (let i = 0; i < n; i++) out.writeDoubleLE(timestamps[i]!, i * 8);
  return out;
}

export function decodeTimestamps(bytes: Uint8Array): Float64Array {
  if (bytes.byteLength % 8 !== 0) throw new RiffleError("INTERNAL", `timestamps of a batch take ${bytes.byteLength} bytes, not a multiple of 8`);
  const n = bytes.byteLength / 8;
  // A view needs 8-byte alignment; received buffers are often slices of a larger one, so copy then.
  if (LITTLE_ENDIAN && bytes.byteOffset % 8 === 0) return new Float64Array(bytes.buffer, bytes.byteOffset, n);
  const out = new Float64Array(n);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(bytes);
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
  }
  return out;
}
