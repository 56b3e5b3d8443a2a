/**
 * Benchmark results: machine-readable (bench/results/<name>.json) and as a markdown table
 * (bench/results/<name>.md), the same table printed to the terminal. The pairs: `core` (throughput
 * and latency), `state` (state backends, checkpoints, recovery), `eventtime` (Nexmark, windows),
 * `memory` (TaskManager memory under large records), `kafka` (the Kafka test broker), `ha` (high
 * availability) and `dashboard`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import type { BenchmarkResult, Measured } from "./benchmark.js";

export const RESULTS_DIR = fileURLToPath(new URL("./results/", import.meta.url));
/** Row order in the reports. */
const ORDER = [
  "stateless-chain",
  "keyed-shuffle",
  "latency",
  "state-backends",
  "checkpoint-1m-keys",
  "recovery",
  "nexmark",
  "windows",
  "memory",
  "kafka-broker",
  "kafka-connectors",
  "ha-election",
  "dashboard",
];
const TITLES: Record<string, string> = {
  core: "Benchmarks",
  state: "State, checkpoint and recovery benchmarks",
  eventtime: "Event-time benchmarks: Nexmark and windows",
  memory: "TaskManager memory under large records",
  kafka: "Kafka benchmarks: the test broker and the connectors",
  ha: "High-availability benchmarks",
  dashboard: "Dashboard benchmarks: job page load and the JobManager's cost of live updates",
};
/**
 * A parameter shown in a column of its own (and not among the parameters) in a pair's table: the
 * eventtime pair sets Riffle's Nexmark rates beside Flink's published ones.
 */
const EXTRA_COLUMNS: Record<string, { parameter: string; header: string; unit: string }> = {
  eventtime: { parameter: "flinkPerCore", header: "Flink 1.13 (per core)", unit: "events/s/core" },
};

export interface Machine {
  cpu: string;
  cores: number;
  node: string;
  date: string;
}

export function machine(): Machine {
  const all = cpus();
  return { cpu: all[0]?.model.trim() ?? "unknown", cores: all.length, node: process.version, date: new Date().toISOString() };
}

export function completeResult(m: Measured, on: Machine): BenchmarkResult {
  return { ...m, ratio: m.value / m.baseline.value, date: on.date, node: on.node, cpu: on.cpu, cores: on.cores };
}

interface ReportFile {
  /** Results pair: "core", "state", "eventtime" or "memory". */
  name?: string;
  command: string;
  machine: Machine;
  results: BenchmarkResult[];
}

/**
 * Writes <name>.json and <name>.md. A run of only some benchmarks replaces their rows and keeps the
 * others from the previous file (each row carries its own date and machine).
 */
export function writeReport(results: BenchmarkResult[], command: string, on: Machine, partial: boolean, name = "core"): string {
  const jsonFile = `${RESULTS_DIR}${name}.json`;
  const mdFile = `${RESULTS_DIR}${name}.md`;
  let rows = results;
  if (partial && existsSync(jsonFile)) {
    const ran = new Set(results.map((r) => r.benchmark));
    const previous = (JSON.parse(readFileSync(jsonFile, "utf8")) as ReportFile).results.filter((r) => !ran.has(r.benchmark));
    rows = [...previous, ...results];
  }
  rows.sort((a, b) => ORDER.indexOf(a.benchmark) - ORDER.indexOf(b.benchmark));
  const file: ReportFile = { ...(name === "core" ? {} : { name }), command, machine: on, results: rows };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(jsonFile, `${JSON.stringify(file, null, 2)}\n`);
  const md = markdown(file);
  writeFileSync(mdFile, md);
  return md;
}

function description(name: string): string {
  if (name === "state")
    return "Each row shows Riffle next to a baseline measured in the same run (the ratio compares them); where the aim is on the value (≤), the baseline gives context. Medians of the runs; every sample is in state.json.";
  if (name === "kafka")
    return "The Kafka test broker's own throughput (a process, fsync on): what it takes without a client (against raw TCP loopback of the same bytes), and what kafkajs gets through it (against that ingest rate). Then the Kafka connectors (Kafka → map → Kafka, and end-to-end latency) against a raw kafkajs consume→produce loop on the same broker in the same run. Medians of the runs; every sample is in kafka.json.";
  if (name === "eventtime")
    return "Each ratio compares Riffle with a baseline measured in the same run: Nexmark per core against the query's fused hand-written loop on one core (Flink's published figure beside it, not measured here), sliding windows against tumbling ones. Medians of the runs; every sample is in eventtime.json.";
  if (name === "ha")
    return "Election rows (ha-election) show the election after a leader's kill -9 next to a handover without a lease to wait out (the leader resigns); failover rows (ha-failover) show the whole failover (every job RUNNING again under the new leader) next to the etcd election alone, both measured in the same rounds. The aim is on the value. Medians and maxima over the rounds; every sample is in ha.json.";
  if (name === "dashboard")
    return "Each row shows the dashboard next to a baseline measured in the same run: the page's first contentful paint (its shell, before any REST answer), and the same JobManager with no dashboard open. Medians of the runs; every sample is in dashboard.json.";
  return "Each ratio compares Riffle with a baseline measured in the same run. Throughput: medians of the runs; latency: percentiles of the pooled runs; every sample is in core.json.";
}

export function markdown(file: ReportFile): string {
  const { machine: m } = file;
  const name = file.name ?? "core";
  const extra = EXTRA_COLUMNS[name];
  const lines = [
    `## ${TITLES[name] ?? "Benchmarks"}`,
    "",
    `\`${file.command}\` on ${m.cpu} (${m.cores} cores), Node ${m.node}, ${m.date.slice(0, 16).replace("T", " ")} UTC.`,
    description(name),
    "",
    `| Benchmark | Riffle | Baseline | Ratio |${extra ? ` ${extra.header} |` : ""} Aim | Parameters |`,
    `|---|---|---|---|${extra ? "---|" : ""}---|---|`,
  ];
  let previous: BenchmarkResult | undefined;
  for (const r of file.results) {
    const aim = aimText(r) ?? "(informative)";
    const sameAsAbove = previous?.benchmark === r.benchmark && JSON.stringify(previous.parameters) === JSON.stringify(r.parameters);
    previous = r;
    const params = sameAsAbove
      ? "as above"
      : Object.entries(r.parameters)
          .filter(([k]) => k !== extra?.parameter)
          .map(([k, v]) => `${k}=${typeof v === "number" ? formatCount(v) : v}`)
          .join(", ");
    const stale = r.date !== m.date ? ` (run ${r.date.slice(0, 16).replace("T", " ")})` : "";
    const extraValue = extra ? r.parameters[extra.parameter] : undefined;
    const extraCell = !extra ? "" : ` ${typeof extraValue === "number" ? formatValue(extraValue, extra.unit) : "—"} |`;
    lines.push(
      `| ${r.title}${stale} | ${formatValue(r.value, r.unit)} | ${r.baseline.name}: ${formatValue(r.baseline.value, r.unit)} | ${r.ratio.toFixed(2)} |${extraCell} ${aim} | ${params} |`,
    );
  }
  return `${lines.join("\n")}\n`;
}

export function formatValue(value: number, unit: string): string {
  if (unit === "rec/s" || unit === "events/s/core") return `${formatCount(value)} ${unit}`;
  if (unit.startsWith("%")) return `${value.toFixed(1)}${unit}`;
  if (unit === "ms") return `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
  if (unit === "bytes") return value >= 1e6 ? `${+(value / 1e6).toFixed(1)} MB` : value >= 1e4 ? `${+(value / 1e3).toFixed(1)} kB` : `${value} B`;
  return `${value} ${unit}`;
}

/** 21300000 → "21.3M", 4500 → "4.5k". */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 1e6) return `${+(n / 1e6).toFixed(abs >= 1e8 ? 0 : abs >= 1e7 ? 1 : 2)}M`;
  if (abs >= 1e4) return `${+(n / 1e3).toFixed(abs >= 1e5 ? 0 : 1)}k`;
  return String(+n.toFixed(2));
}

/** "≥ 0.5" for an aim on the ratio, "≤ 50 ms" for one on the value. */
function aimText(r: BenchmarkResult): string | undefined {
  if (!r.aim) return undefined;
  return "min" in r.aim ? `≥ ${r.aim.min}` : `≤ ${r.aim.max} ${r.unit}`;
}

export function aimMet(r: BenchmarkResult): boolean | undefined {
  if (!r.aim) return undefined;
  return "min" in r.aim ? r.ratio >= r.aim.min : r.value <= r.aim.max;
}

/** One line per result, printed as soon as a benchmark ends. */
export function summaryLine(r: BenchmarkResult): string {
  const aim = r.aim ? ` (aim ${aimText(r)}: ${aimMet(r) ? "met" : "not met"})` : "";
  return `${r.title}: Riffle ${formatValue(r.value, r.unit)} vs ${r.baseline.name} ${formatValue(r.baseline.value, r.unit)} → ratio ${r.ratio.toFixed(2)}${aim}`;
}
