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
    gauge(name, read, help = name, extra = {}) {
      const full = metricName(name);
      const extraNames = Object.keys(extra).sort();
      for (const l of extraNames) {
        if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(l) || (TASK_LABELS as readonly string[]).includes(l))
          throw new Error(`invalid label "${l}" of metric "${name}": use letters, digits and _, and none of ${TASK_LABELS.join(", ")}`);
      }
      let entry = gaugeReaders.get(full);
      if (entry && entry.extraNames.join(",") !== extraNames.join(",")) {
        throw new Error(`metric "${name}" has labels ${entry.extraNames.join(", ") || "(none)"}, not ${extraNames.join(", ") || "(none)"}`);
      }
      if (!entry) gaugeReaders.set(full, (entry = { extraNames, readers: new Map() }));
      const all = { ...labels, ...extra };
      entry.readers.set(JSON.stringify(Object.entries(all).sort()), { labels: all, read });
      if (!registry.getSingleMetric(full)) {
        const readers = entry.readers;
        new Gauge({
          name: full,
          help,
          labelNames: [...TASK_LABELS, ...extraNames],
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

/** Per gauge: its label names beyond the task's, and a reader per series (keyed by all its labels). */
const gaugeReaders = new Map<string, { extraNames: string[]; readers: Map<string, { labels: Record<string, string>; read: () => number }> }>();
