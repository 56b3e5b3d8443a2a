/**
 * Key groups (as in Flink): a key belongs to `murmur3(canonical bytes of the key) % maxParallelism`,
 * and subtask i of p owns the contiguous key-group range [ceil(i*maxP/p), ceil((i+1)*maxP/p) - 1].
 * Rescaling later moves whole key groups, so this mapping must never change.
 */

let scratch = Buffer.allocUnsafe(256);

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
  const text = canonicalKey(key);
  if (text.length * 3 > scratch.length) scratch = Buffer.allocUnsafe(text.length * 3);
  const len = scratch.write(text, 0, "utf8");
  return murmur3(scratch, len);
}

export function murmur3(bytes: Uint8Array, len = bytes.length, seed = 0): number {
  let h = seed >>> 0;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const blocks = len & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) >>> 0;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = len & 3;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= bytes[blocks + 2]! << 16;
    if (tail >= 2) k ^= bytes[blocks + 1]! << 8;
    k ^= bytes[blocks]!;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
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
