import type { ResolvedTtl } from "@riffle/sdk/internal";

/**
 * With a time-to-live, a value is stored with the time its TTL last restarted: `[value, stamp]` for
 * single values and list elements, `[key, value, stamp]` for map entries. Without one, values are
 * stored as they are (no wrapper, no clock read on the hot path).
 */
export type Stamped<T> = [value: T, stamp: number];

export function isExpired(stamp: number, ttl: ResolvedTtl, now: number): boolean {
  return now - stamp >= ttl.ttlMs;
}

export function refreshesOnRead(ttl: ResolvedTtl): boolean {
  return ttl.updateType === "OnReadAndWrite";
}
