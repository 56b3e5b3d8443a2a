import { Counter, Gauge, type Registry } from "@riffle/shared";
import type { MetricGroup } from "@riffle/sdk";
import { TASK_LABELS } from "./labels.js";

/** User metrics: `riffle_user_<name>` with the task's labels. */
export function userMetricGroup(registry: Registry, labels: Record<(typeof TASK_LABELS)[number], string>): MetricGroup {
  const metricName = (name: string) => {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) throw new Error(`invalid metric name "${name}": use letters, digits and _`);
    return `riffle_user_${name}`;
  };
  return {
    counter(name, help = name) {
      const full = metricName(name);
      const existing = registry.getSingleMetric(full) as Counter<string> | undefined;
      const counter = existing ?? new Counter({ name: full, help, labelNames: TASK_LABELS, registers: [registry] });
      const child = counter.labels(labels);
      return { inc: (by = 1) => child.inc(by) };
    },
    gauge(name, read, help = name) {
      const full = metricName(name);
      const readers = gaugeReaders.get(full) ?? new Map<string, { labels: typeof labels; read: () => number }>();
      gaugeReaders.set(full, readers);
      readers.set(JSON.stringify(labels), { labels, read });
      if (!registry.getSingleMetric(full)) {
        new Gauge({
          name: full,
          help,
          labelNames: TASK_LABELS,
          registers: [registry],
          collect() {
            this.reset();
            for (const r of readers.values()) this.set(r.labels, r.read());
          },
        });
      }
    },
  };
}

const gaugeReaders = new Map<string, Map<string, { labels: Record<string, string>; read: () => number }>>();
