import type { Clock } from "@riffle/shared";

/** Waits `ms` on `clock`, or less when `signal` aborts first; never rejects. */
export function pause(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      cancel();
      signal.removeEventListener("abort", done);
      resolve();
    };
    const cancel = clock.schedule(done, ms);
    if (signal.aborted) done();
    else signal.addEventListener("abort", done, { once: true });
  });
}

/** Resolves once `signal` aborts. */
export function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}

/** Retries after a failure: from 100 ms, doubling, at most 1 s apart. */
export const backoffMs = (failures: number): number => Math.min(1_000, 100 * 2 ** (Math.max(1, failures) - 1));
