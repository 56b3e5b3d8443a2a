/**
 * Pure helpers of the REST API's shapes, free of the schemas (so the dashboard can import them
 * without zod).
 */

export type BackPressureLevel = "ok" | "low" | "high";

/** Flink's levels of a back-pressure ratio (time waiting for output buffers / wall time): OK ≤ 0.10 < LOW ≤ 0.5 < HIGH. */
export function backPressureLevel(ratio: number): BackPressureLevel {
  if (ratio <= 0.1) return "ok";
  if (ratio <= 0.5) return "low";
  return "high";
}
