import { Registry, collectDefaultMetrics } from "prom-client";

export { Counter, Gauge, Histogram, Registry } from "prom-client";

/** A process-wide registry with Node's default metrics, prefixed `riffle_`. */
export function createRegistry(process: "jobmanager" | "taskmanager"): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ process });
  collectDefaultMetrics({ register: registry, prefix: "riffle_" });
  return registry;
}

/**
 * Turns a growing total (milliseconds spent busy, records emitted, ...) into a per-second rate over a
 * sliding window of one-second samples, as Flink's `...PerSecond` meters do. Call `tick()` once a
 * second with the current total.
 */
export class RateMeter {
  private readonly samples: Array<{ at: number; total: number }> = [];

  constructor(private readonly windowSeconds = 5) {}

  tick(total: number, now: number): void {
    this.samples.push({ at: now, total });
    while (this.samples.length > this.windowSeconds + 1) this.samples.shift();
  }

  /** Units per second over the window; 0 until two samples exist. */
  rate(): number {
    if (this.samples.length < 2) return 0;
    const first = this.samples[0]!;
    const last = this.samples[this.samples.length - 1]!;
    const seconds = (last.at - first.at) / 1000;
    return seconds > 0 ? (last.total - first.total) / seconds : 0;
  }
}
