import type { TaskManagerMetricsInfo } from "@riffle/shared/rest-api";

/** One sample of a Prometheus text exposition: name, labels and value. */
export interface PrometheusSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (what prom-client writes): one sample per line, comments skipped. */
export function parsePrometheusText(text: string): PrometheusSample[] {
  const samples: PrometheusSample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const brace = line.indexOf("{");
    const space = brace < 0 ? line.indexOf(" ") : line.indexOf(" ", line.lastIndexOf("}"));
    if (space < 0) continue;
    const name = line.slice(0, brace < 0 ? space : brace);
    const labels: Record<string, string> = {};
    if (brace >= 0) {
      for (const m of line.slice(brace + 1, line.lastIndexOf("}")).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
      }
    }
    const value = Number(
      line
        .slice(space + 1)
        .trim()
        .split(" ")[0],
    );
    samples.push({ name, labels, value });
  }
  return samples;
}

/**
 * The TaskManager metrics the REST API shows, read from its Prometheus endpoint (the address it
 * registered with). The JobManager does not receive these in heartbeats; the dashboard asks at its
 * refresh interval, so answers are cached for `cacheMs` per TaskManager and concurrent requests share
 * one scrape.
 */
export class TaskManagerMetricsScraper {
  private readonly cache = new Map<string, { at: number; result: Promise<TaskManagerMetricsInfo> }>();

  constructor(private readonly options: { cacheMs: number; timeoutMs: number; now?: () => number } = { cacheMs: 1_000, timeoutMs: 2_000 }) {}

  /** Rejects with the reason when the endpoint does not answer or lacks a metric. */
  metricsOf(metricsAddress: string): Promise<TaskManagerMetricsInfo> {
    const now = (this.options.now ?? Date.now)();
    const cached = this.cache.get(metricsAddress);
    if (cached && now - cached.at < this.options.cacheMs) return cached.result;
    const result = this.scrape(metricsAddress);
    this.cache.set(metricsAddress, { at: now, result });
    // Forget TaskManagers that went away: the cache holds only recent scrapes.
    for (const [address, entry] of this.cache) if (now - entry.at > 60_000) this.cache.delete(address);
    return result;
  }

  private async scrape(metricsAddress: string): Promise<TaskManagerMetricsInfo> {
    const res = await fetch(`http://${metricsAddress}/metrics`, { signal: AbortSignal.timeout(this.options.timeoutMs) });
    if (!res.ok) throw new Error(`its metrics endpoint ${metricsAddress} answered ${res.status}`);
    const samples = parsePrometheusText(await res.text());
    const value = (name: string): number => {
      const s = samples.find((x) => x.name === name);
      if (!s) throw new Error(`its metrics endpoint ${metricsAddress} has no ${name}`);
      return s.value;
    };
    /** A per-slot gauge summed over the TaskManager's slots (each slot is a worker thread). */
    const slots = (name: string): number => {
      const all = samples.filter((x) => x.name === name);
      if (all.length === 0) throw new Error(`its metrics endpoint ${metricsAddress} has no ${name}`);
      return all.reduce((sum, x) => sum + x.value, 0);
    };
    const total = slots("riffle_taskmanager_slot_network_segments_total");
    const available = slots("riffle_taskmanager_slot_network_segments_available");
    return {
      // The process's heap: its main thread's and its slots' worker threads'.
      heapUsed: value("riffle_nodejs_heap_size_used_bytes") + slots("riffle_taskmanager_slot_heap_used_bytes"),
      heapCommitted: value("riffle_nodejs_heap_size_total_bytes") + slots("riffle_taskmanager_slot_heap_total_bytes"),
      rss: value("riffle_process_resident_memory_bytes"),
      eventLoopLagMs: value("riffle_nodejs_eventloop_lag_seconds") * 1000,
      nettyShuffleMemorySegmentsTotal: total,
      nettyShuffleMemorySegmentsAvailable: available,
      nettyShuffleMemorySegmentsUsed: total - available,
    };
  }
}
