import { RiffleError } from "@riffle/shared";

/**
 * LevelDB keys and values of the leveldb backend are text (valid UTF-8, written and read as strings):
 * classic-level hands an entry to JavaScript several times faster as strings than as Buffers (1M
 * entries: ~0.8 s against ~2.5 s here), and a snapshot iterates every entry. The database lives only
 * as long as its backend (checkpoints are the durable form), so this layout is free to change.
 *
 * Key: `keyGroup | stateId | key length | key | namespace`. Numbers below {@link ONE_CHAR_LIMIT}
 * are one character (the number plus {@link CODE_OFFSET}), larger ones {@link LONG_NUMBER} and two
 * characters of 15 bits; a key group (< 32768) is always one character. UTF-8 keeps code-point order,
 * so a key-group range is one contiguous scan. The namespace needs no length: it runs to the end.
 *
 * Value: the msgpack bytes of the stored value, one character per byte (latin1 text, stored as its
 * UTF-8): the snapshot copies them to its frames byte by byte, without decoding them.
 */
export const CODE_OFFSET = 0x20;
/** Numbers written as one character stay below this, and so below the surrogates (0xd800). */
export const ONE_CHAR_LIMIT = 0xd000;
/** Marks a number written as two characters. Above the surrogates, so a valid code point. */
export const LONG_NUMBER = 0xe000;
const MAX_NUMBER = 2 ** 30;

function numberText(n: number, what: string): string {
  if (n < ONE_CHAR_LIMIT) return String.fromCharCode(CODE_OFFSET + n);
  if (n >= MAX_NUMBER) throw new RiffleError("STATE_INVALID_ARGUMENT", `${what} ${n} is too large for the leveldb backend`);
  return String.fromCharCode(LONG_NUMBER, CODE_OFFSET + (n >>> 15), CODE_OFFSET + (n & 0x7fff));
}

/** The part after keyGroup and stateId; the same for every state of a (key, namespace), so rows build it once. */
export function keySuffix(key: string, namespace: string): string {
  return numberText(key.length, "a state key of length") + key + namespace;
}

export function dbKey(keyGroup: number, stateId: number, suffix: string): string {
  return (
    (stateId < ONE_CHAR_LIMIT
      ? String.fromCharCode(CODE_OFFSET + keyGroup, CODE_OFFSET + stateId)
      : keyGroupPrefix(keyGroup) + numberText(stateId, "state id")) + suffix
  );
}

/** The first key of a key group (the exclusive end of the one before). */
export function keyGroupPrefix(keyGroup: number): string {
  return String.fromCharCode(CODE_OFFSET + keyGroup);
}

/** The parts of a database key, as positions (filled in place: the snapshot parses every key). */
export interface DbKeyParts {
  stateId: number;
  /** Where the key starts; the namespace starts at `keyEnd` and runs to the end. */
  keyStart: number;
  keyEnd: number;
}

/** Parses `text` (a database key) into `out`; returns its key group. */
export function parseDbKey(text: string, out: DbKeyParts): number {
  let c = text.charCodeAt(1);
  let pos: number;
  if (c !== LONG_NUMBER) {
    out.stateId = c - CODE_OFFSET;
    pos = 2;
  } else {
    out.stateId = ((text.charCodeAt(2) - CODE_OFFSET) << 15) | (text.charCodeAt(3) - CODE_OFFSET);
    pos = 4;
  }
  c = text.charCodeAt(pos);
  let length: number;
  if (c !== LONG_NUMBER) {
    length = c - CODE_OFFSET;
    pos += 1;
  } else {
    length = ((text.charCodeAt(pos + 1) - CODE_OFFSET) << 15) | (text.charCodeAt(pos + 2) - CODE_OFFSET);
    pos += 3;
  }
  out.keyStart = pos;
  out.keyEnd = pos + length;
  return text.charCodeAt(0) - CODE_OFFSET;
}

export interface DecodedDbKey {
  keyGroup: number;
  stateId: number;
  key: string;
  namespace: string;
}

export function decodeDbKey(text: string): DecodedDbKey {
  const parts: DbKeyParts = { stateId: 0, keyStart: 0, keyEnd: 0 };
  const keyGroup = parseDbKey(text, parts);
  return { keyGroup, stateId: parts.stateId, key: text.slice(parts.keyStart, parts.keyEnd), namespace: text.slice(parts.keyEnd) };
}

/** A stored value's text from its msgpack bytes. */
export function valueText(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

/** The msgpack bytes of a stored value's text. */
export function valueBytes(text: string): Buffer {
  return Buffer.from(text, "latin1");
}
