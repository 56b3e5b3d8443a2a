import { Gauge, type Registry } from "@riffle/shared";

/** Sets one labelled value of a gauge being collected; an undefined value is left out. */
export type SetGaugeValue = (labels: Record<string, string>, value: number | undefined) => void;

/**
 * A gauge read at each scrape from what is current — the leader part of the moment, its resource
 * manager, … — and empty while there is none (a standby): every scrape starts afresh, so values of
 * ended jobs or of an earlier leadership never linger.
 */
export function currentGauge<T>(
  metrics: Registry,
  spec: { name: string; help: string; labelNames: string[] },
  current: () => T | undefined,
  collect: (set: SetGaugeValue, now: T) => void,
): Gauge {
  return new Gauge({
    ...spec,
    registers: [metrics],
    collect() {
      this.reset();
      const now = current();
      if (now === undefined) return;
      collect((labels, value) => {
        if (value !== undefined) this.set(labels, value);
      }, now);
    },
  });
}
