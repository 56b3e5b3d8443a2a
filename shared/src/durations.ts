/** Durations accepted in configuration: a number of milliseconds or a string such as `500ms`, `10s`, `2m`, `1h`. */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

export function parseDuration(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) throw new Error(`invalid duration ${value}: expected a non-negative number of milliseconds`);
    return value;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$/.exec(value);
  if (!m) throw new Error(`invalid duration "${value}": expected e.g. 500ms, 10s, 2m or 1h`);
  return Math.round(Number(m[1]) * (UNITS[m[2] ?? "ms"] ?? 1));
}

/** Sizes: bytes or a string such as `32kb`, `64mb`. */
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

export function parseSize(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isInteger(value) || value < 0) throw new Error(`invalid size ${value}: expected a non-negative integer of bytes`);
    return value;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(value);
  if (!m) throw new Error(`invalid size "${value}": expected e.g. 32kb or 64mb`);
  return Math.round(Number(m[1]) * (SIZE_UNITS[(m[2] ?? "b").toLowerCase()] ?? 1));
}
