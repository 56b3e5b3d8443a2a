/** Small statistics for benchmark samples. */

export function median(values: readonly number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

/**
 * The q-quantile of an ascending array by the nearest-rank method: a reported p99 is a latency some
 * record really had, not an interpolation between two.
 */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

/** Rounds to two significant digits, so calibrated record counts read well in reports. */
export function roundCount(n: number): number {
  if (n < 100) return Math.max(1, Math.round(n));
  const scale = 10 ** (Math.floor(Math.log10(n)) - 1);
  return Math.round(n / scale) * scale;
}
