/**
 * The autoscaler over load traces (step, ramp, sine, spike, noisy plateau): the JobAutoscaler itself
 * (jobmanager/src/autoscaler/), driven second by second with a manual clock over the queueing model
 * of a job in jobmanager/src/testing/job-model.ts: a source whose records arrive at the trace's rate
 * into a vertex of 100 records/s per subtask, starting at the parallelism its first rate needs, where a rescale stops
 * processing for 10 s (records keep arriving). It measures the algorithm and its guards, not a
 * cluster: the end-to-end tests (e2e/autoscaler.test.ts) do that on real processes, for a step.
 *
 * Per trace: rescales (up/down), the longest stretch with less capacity than arrivals, the time with
 * a backlog (what the source would show as back-pressure), and the final parallelism beside the
 * ideal one, ceil(final rate / (0.7 × 100/s)). Writes bench/results/autoscaler.md and one SVG plot per
 * trace (arrival rate and capacity over time).
 *
 *   node --import tsx bench/autoscaler-traces.ts      (about 20 s)
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Run, noise, replay } from "../jobmanager/src/testing/job-model.js";
import { lineChart } from "./plot.js";
import { RESULTS_DIR } from "./report.js";

const PER_SUBTASK = 100;
const HOURS = 3;
/** Production-like settings (Flink's defaults where the time scale of a bench allows them). */
const SETTINGS = {
  "job.autoscaler.interval": "10s",
  "job.autoscaler.metrics.window": "5m",
  "job.autoscaler.stabilization.interval": "1m",
  "job.autoscaler.scale-down.interval": "30m",
  "job.autoscaler.catch-up.duration": "5m",
  "job.autoscaler.restart.time": "10s",
};

interface Trace {
  name: string;
  what: string;
  arrival: (t: number) => number;
}

/** Each trace starts sized for its first rate: the parallelism that puts it nearest the 0.7 target. */
function initialParallelism(trace: Trace): number {
  return Math.max(1, Math.round(trace.arrival(0) / (0.7 * PER_SUBTASK)));
}

function traces(): Trace[] {
  const rnd = noise(7);
  let level = 400;
  return [
    { name: "step", what: "150/s, then 600/s from 30 min", arrival: (t) => (t < 1800 ? 150 : 600) },
    { name: "ramp", what: "100/s rising to 1000/s over 2 h, then flat", arrival: (t) => 100 + 900 * Math.min(1, t / 7200) },
    { name: "sine", what: "500/s ± 300/s, one period an hour", arrival: (t) => 500 + 300 * Math.sin((2 * Math.PI * t) / 3600) },
    { name: "spike", what: "200/s, with 1000/s for 2 min at 60 min", arrival: (t) => (t >= 3600 && t < 3720 ? 1000 : 200) },
    {
      name: "noisy-plateau",
      what: "400/s ± 20 %, a new value every 5 s",
      arrival: (t) => {
        if (t % 5 === 0) level = 400 * (0.8 + 0.4 * rnd());
        return level;
      },
    },
  ];
}

interface Row {
  trace: Trace;
  run: Run;
  ups: number;
  downs: number;
  longestUnderMin: number;
  backlogMin: number;
  final: number;
  ideal: number;
}

function measure(trace: Trace, run: Run): Row {
  let ups = 0;
  let downs = 0;
  let from = run.series[0]!.parallelism;
  for (const r of run.rescales) {
    if (r.to > from) ups++;
    else downs++;
    from = r.to;
  }
  let longest = 0;
  let current = 0;
  let backlogged = 0;
  for (const p of run.series) {
    current = p.arriving > p.capacity ? current + 1 : 0;
    longest = Math.max(longest, current);
    if (p.backlog > 0) backlogged++;
  }
  const last = run.series.at(-1)!;
  return {
    trace,
    run,
    ups,
    downs,
    longestUnderMin: longest / 60,
    backlogMin: backlogged / 60,
    final: last.parallelism,
    ideal: Math.ceil(trace.arrival(last.t) / (0.7 * PER_SUBTASK)),
  };
}

/** Arrival rate and capacity over time (one point every 10 s). */
function plot(row: Row): string {
  const series = row.run.series.filter((_, i) => i % 10 === 0);
  return lineChart({
    title: `${row.trace.name}: ${row.trace.what} — ${row.run.rescales.length} rescales (records/s over hours)`,
    xMax: row.run.series.at(-1)!.t,
    xTicks: Array.from({ length: HOURS + 1 }, (_, h) => ({ at: h * 3600, label: `${h} h` })),
    lines: [
      { label: "arrivals", color: "#1f77b4", points: series.map((p) => [p.t, p.arriving] as const) },
      { label: `capacity (p × ${PER_SUBTASK}/s)`, color: "#ff7f0e", points: series.map((p) => [p.t, p.capacity] as const) },
    ],
  });
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const trace of traces()) {
    const run = await replay(
      { arrival: trace.arrival, perSubtask: PER_SUBTASK, parallelism: initialParallelism(trace), rescaleDowntimeMs: 10_000 },
      HOURS * 60,
      { settings: SETTINGS },
    );
    const row = measure(trace, run);
    rows.push(row);
    writeFileSync(join(RESULTS_DIR, `autoscaler-${trace.name}.svg`), plot(row));
  }
  const lines = [
    "# Autoscaler over load traces",
    "",
    `The JobAutoscaler over ${HOURS} h of each trace, replayed on the queueing model of a job (jobmanager/src/testing/job-model.ts): ${PER_SUBTASK} records/s per subtask, starting at the parallelism nearest the 0.7 target for the first rate, 10 s without processing per rescale. Settings: ${Object.entries(
      SETTINGS,
    )
      .map(([k, v]) => `${k.replace("job.autoscaler.", "")} ${v}`)
      .join(", ")}; the rest default. A model, not a cluster: see e2e/autoscaler.test.ts for real processes. \`node --import tsx bench/autoscaler-traces.ts\`.`,
    "",
    "| trace | load | rescales (up/down) | parallelism over time | longest under capacity | time with a backlog | final vs ideal parallelism |",
    "|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.trace.name} | ${r.trace.what} | ${r.run.rescales.length} (${r.ups}/${r.downs}) | ${[r.run.series[0]!.parallelism, ...r.run.rescales.map((x) => x.to)].join(" → ")} | ${r.longestUnderMin.toFixed(1)} min | ${r.backlogMin.toFixed(1)} min | ${r.final} vs ${r.ideal} |`,
    ),
    "",
    ...rows.map((r) => `![${r.trace.name}](autoscaler-${r.trace.name}.svg)`),
    "",
  ];
  writeFileSync(join(RESULTS_DIR, "autoscaler.md"), lines.join("\n"));
  console.log(lines.slice(4, 5 + rows.length + 1).join("\n"));
}

await main();
