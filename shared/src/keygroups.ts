/**
 * Key groups (as in Flink): a key belongs to `murmur3(canonical bytes of the key) % maxParallelism`,
 * and subtask i of p owns the contiguous key-group range [ceil(i*maxP/p), ceil((i+1)*maxP/p) - 1].
 * Rescaling later moves whole key groups, so this mapping must never change.
 */

/** The canonical text of a key: strings as they are, numbers/booleans/bigints by String(), others as JSON. */
export function canonicalKey(key: unknown): string {
  switch (typeof key) {
    case "string":
      return key;
    case "number":
    case "bigint":
    case "boolean":
      return String(key);
    case "undefined":
      return "undefined";
    default:
      return JSON.stringify(key);
  }
}

/** MurmurHash3 x86 32-bit of the key's canonical UTF-8 bytes, seed 0, as an unsigned integer. */
export function murmur3Key(key: unknown): number {
  return murmur3Utf8(canonicalKey(key));
}

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function mixBlock(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/**
 * murmur3 of a string's UTF-8 bytes, encoding on the fly: hashing every record's key through a
 * Buffer costs a native call per record (measured ~9% of a keyed shuffle). Lone surrogates hash as
 * U+FFFD, as Buffer encodes them.
 *
 * This is the path for ASCII strings, the usual key, kept small enough for V8 to inline it into the
 * per-record callers (the hash partitioner, the state backend's setCurrentKey): a call that is not
 * inlined returns the unsigned hash as a heap-allocated number three times in four (it does not fit
 * a small integer), measured 16 bytes of garbage per record on the receiving side of a keyed
 * shuffle. Other strings go to murmur3Utf8Encoded.
 */
export function murmur3Utf8(s: string, seed = 0): number {
  const n = s.length;
  let h = seed | 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const c0 = s.charCodeAt(i);
    const c1 = s.charCodeAt(i + 1);
    const c2 = s.charCodeAt(i + 2);
    const c3 = s.charCodeAt(i + 3);
    if ((c0 | c1 | c2 | c3) >= 0x80) return murmur3Utf8Encoded(s, seed);
    h = mixBlock(h, c0 | (c1 << 8) | (c2 << 16) | (c3 << 24));
  }
  if (i < n) {
    // One to three characters left: the tail block, low byte first.
    const c0 = s.charCodeAt(i);
    const c1 = i + 1 < n ? s.charCodeAt(i + 1) : 0;
    const c2 = i + 2 < n ? s.charCodeAt(i + 2) : 0;
    if ((c0 | c1 | c2) >= 0x80) return murmur3Utf8Encoded(s, seed);
    h = mixTail(h, c0 | (c1 << 8) | (c2 << 16));
  }
  return fmix(h, n);
}

/** murmur3Utf8 for any string: UTF-8 encoded character by character. */
function murmur3Utf8Encoded(s: string, seed: number): number {
  let h = seed | 0;
  let k = 0;
  let shift = 0;
  let len = 0;
  const n = s.length;
  let i = 0;
  // Whole blocks of four ASCII characters, the usual key, without the per-byte loop below.
  for (; i + 4 <= n; i += 4) {
    const c0 = s.charCodeAt(i);
    const c1 = s.charCodeAt(i + 1);
    const c2 = s.charCodeAt(i + 2);
    const c3 = s.charCodeAt(i + 3);
    if ((c0 | c1 | c2 | c3) >= 0x80) break;
    h = mixBlock(h, c0 | (c1 << 8) | (c2 << 16) | (c3 << 24));
  }
  len = i;
  for (; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      k |= c << shift;
      shift += 8;
      len++;
      if (shift === 32) {
        h = mixBlock(h, k);
        k = 0;
        shift = 0;
      }
      continue;
    }
    let bytes: number;
    let count: number;
    if (c < 0x800) {
      bytes = 0xc0 | (c >> 6) | ((0x80 | (c & 0x3f)) << 8);
      count = 2;
    } else {
      if (c >= 0xd800 && c < 0xe000) {
        const d = c < 0xdc00 && i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (d >= 0xdc00 && d < 0xe000) {
          i++;
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        } else {
          c = 0xfffd;
        }
      }
      if (c < 0x10000) {
        bytes = 0xe0 | (c >> 12) | ((0x80 | ((c >> 6) & 0x3f)) << 8) | ((0x80 | (c & 0x3f)) << 16);
        count = 3;
      } else {
        bytes = 0xf0 | (c >> 18) | ((0x80 | ((c >> 12) & 0x3f)) << 8) | ((0x80 | ((c >> 6) & 0x3f)) << 16) | ((0x80 | (c & 0x3f)) << 24);
        count = 4;
      }
    }
    for (let b = 0; b < count; b++) {
      k |= ((bytes >>> (8 * b)) & 0xff) << shift;
      shift += 8;
      len++;
      if (shift === 32) {
        h = mixBlock(h, k);
        k = 0;
        shift = 0;
      }
    }
  }
  if (shift > 0) h = mixTail(h, k);
  return fmix(h, len);
}

function mixTail(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  return h ^ k;
}

function fmix(h: number, len: number): number {
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function murmur3(bytes: Uint8Array, len = bytes.length, seed = 0): number {
  let h = seed >>> 0;
  const blocks = len & ~3;
  for (let i = 0; i < blocks; i += 4) {
    h = mixBlock(h, (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) >>> 0);
  }
  const tail = len & 3;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= bytes[blocks + 2]! << 16;
    if (tail >= 2) k ^= bytes[blocks + 1]! << 8;
    k ^= bytes[blocks]!;
    h = mixTail(h, k);
  }
  return fmix(h, len);
}

export function keyGroupOf(key: unknown, maxParallelism: number): number {
  return murmur3Key(key) % maxParallelism;
}

/** Index of the subtask (of `parallelism`) that owns `keyGroup`. */
export function operatorIndexForKeyGroup(keyGroup: number, parallelism: number, maxParallelism: number): number {
  return Math.floor((keyGroup * parallelism) / maxParallelism);
}

export interface KeyGroupRange {
  start: number;
  /** Inclusive. */
  end: number;
}

export function keyGroupRangeForSubtask(subtask: number, parallelism: number, maxParallelism: number): KeyGroupRange {
  return {
    start: Math.ceil((subtask * maxParallelism) / parallelism),
    end: Math.ceil(((subtask + 1) * maxParallelism) / parallelism) - 1,
  };
}
