/**
 * LevelDB keys of the leveldb backend, ordered so a key-group range is one contiguous scan:
 *
 *   keyGroup u16 | stateId u16 | key length u32 | key (UTF-8 of its canonical text) | namespace (UTF-8)
 *
 * Big-endian, so byte order is numeric order. The namespace needs no length: it runs to the end.
 */
export const KEY_HEADER = 8;

/** The part after keyGroup and stateId; the same for every state of a (key, namespace), so rows build it once. */
export function keySuffix(key: string, namespace: string): Buffer {
  const keyLength = Buffer.byteLength(key, "utf8");
  const out = Buffer.allocUnsafe(4 + keyLength + Buffer.byteLength(namespace, "utf8"));
  out.writeUInt32BE(keyLength, 0);
  out.write(key, 4, "utf8");
  if (namespace !== "") out.write(namespace, 4 + keyLength, "utf8");
  return out;
}

export function dbKey(keyGroup: number, stateId: number, suffix: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + suffix.length);
  out.writeUInt16BE(keyGroup, 0);
  out.writeUInt16BE(stateId, 2);
  suffix.copy(out, 4);
  return out;
}

/** The first key of a key group (the exclusive end of the one before). */
export function keyGroupPrefix(keyGroup: number): Buffer {
  const out = Buffer.allocUnsafe(2);
  out.writeUInt16BE(keyGroup, 0);
  return out;
}

export interface DecodedDbKey {
  keyGroup: number;
  stateId: number;
  key: string;
  namespace: string;
}

export function decodeDbKey(bytes: Buffer): DecodedDbKey {
  const keyLength = bytes.readUInt32BE(4);
  return {
    keyGroup: bytes.readUInt16BE(0),
    stateId: bytes.readUInt16BE(2),
    key: bytes.toString("utf8", KEY_HEADER, KEY_HEADER + keyLength),
    namespace: bytes.toString("utf8", KEY_HEADER + keyLength),
  };
}
