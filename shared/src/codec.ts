import { Packr, Unpackr } from "msgpackr";

/**
 * Batches of records outside the data plane (collect results on their way to the client) and single
 * values (events, control payloads), encoded by msgpackr with record structures; each batch is
 * self-describing. The data plane serializes record by record into network segments instead
 * (`taskmanager/src/network/serialization.ts`).
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
