/**
 * The autoscaler over load traces (step, ramp, sine, spike, noisy plateau) on a real cluster: per
 * trace, a JobManager whose resource manager starts TaskManagers as processes (`process` provider,
 * 2 slots each, at most 3), running the traced-load job (e2e/jobs/traced-load.ts: a source whose
 * records arrive at the trace's rate, rebalanced into a Work vertex that pays 20 ms per record as a
 * blocking wait, so each Work subtask takes 50 records/s and capacity grows with parallelism even on
 * 2 cores), with the autoscaler on at a time scale of seconds (the settings of e2e/autoscaler.test.ts,
 * a 60 s scale-down delay). Every 500 ms it reads the JobManager's REST: the job (Work's parallelism,
 * its running subtasks, its measured records/s), the source's back-pressure
 * (/jobs/:id/vertices/:vid/backpressure) and backlog (pendingRecords), and the autoscaler
 * (/jobs/:id/autoscaler: its state and history).
 *
 * Per trace: rescales (up/down, from the autoscaler's history), the time from each rise of the load
 * until the running parallelism covers the arrivals (p × 50/s ≥ rate, holding for 10 s or until the load changes again),
 * the time under capacity (running p × 50/s below the arrival rate, including the rescales' down
 * time), the time the source was back-pressured (its level LOW or HIGH at the endpoint: ratio >
 * 0.1), and the final parallelism beside the ideal one, ceil(final rate / (0.7 × 50/s)). Every record
 * is checked to be committed exactly once, or the benchmark fails. Writes
 * bench/results/autoscaler-cluster.{md,json} and one SVG plot per trace (arrival rate, Work's measured
 * records/s and running parallelism × 50/s over time, back-pressured stretches shaded).
 *
 * bench/autoscaler-traces.ts replays the same algorithm over hours of similar traces on a queueing
 * model, at production settings; this one measures the whole loop (metrics in heartbeats, the
 * autoscaler, savepoint rescales, TaskManagers started and released) on real processes, with the
 * traces compressed to 1.5–2.5 minutes each.
 *
 *   npm run build && node --import tsx bench/run.ts autoscaler-cluster     (about 11 minutes)
 *   node --import tsx bench/run.ts autoscaler-cluster --quick              (the step trace only; writes nothing)
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { AggregatedMetrics, AutoscalerEvent, JobAutoscalerInfo, JobDetails, JobVertexBackPressure } from "@riffle/shared/rest-api";
import { TestCluster, committedLines, mulberry32 } from "../e2e/harness/index.js";
import type { Benchmark, BenchmarkContext } from "./benchmark.js";
import { lineChart } from "./plot.js";
import { RESULTS_DIR, machine } from "./report.js";

const JOB = "e2e/jobs/traced-load.ts";
const COST_MS = 20;
/** Records per second one Work subtask takes at COST_MS a record. */
const PER_SUBTASK = 1000 / COST_MS;
const TARGET_UTILIZATION = 0.7;
const SAMPLE_MS = 500;
/** Capacity counts as enough once it holds this long: the autoscaler's metrics window. */
const HOLD_S = 10;
/** The autoscaler at a time scale of seconds: e2e/autoscaler.test.ts's settings, with a scale-down delay of 6 metric windows (as the model bench's 30 min to 5 min). */
const AUTOSCALER = {
  "job.autoscaler.interval": "1s",
  "job.autoscaler.metrics.window": "10s",
  "job.autoscaler.stabilization.interval": "3s",
  "job.autoscaler.catch-up.duration": "0s",
  "job.autoscaler.scale-down.interval": "60s",
  "job.autoscaler.vertex.max-parallelism": 6,
};
const CLUSTER = {
  config: { "heartbeat.interval": "500ms", "taskmanager.slots": 2 },
  jobmanager: { "resourcemanager.provider": "process", "resourcemanager.taskmanagers.max": 3, "resourcemanager.taskmanager-timeout": "5s" },
};

interface Segment {
  seconds: number;
  rate: number;
}

interface Trace {
  name: string;
  what: string;
  segments: Segment[];
  /** The rate the job is first sized for (its parallelism nearest the target utilization there). */
  sizedFor: number;
  /** Moments the load rises to a new level (seconds into the trace), for the time to enough capacity. */
  changes: Array<{ at: number; what: string; until?: number }>;
}

/** `seconds` one-second segments with the rate of `f` at each second's middle. */
function perSecond(seconds: number, f: (t: number) => number): Segment[] {
  return Array.from({ length: seconds }, (_, i) => ({ seconds: 1, rate: Math.round(f(i + 0.5)) }));
}

function traces(): Trace[] {
  const rnd = mulberry32(7);
  return [
    {
      name: "step",
      what: "30/s, then 120/s from 30 s; 90 s",
      segments: [
        { seconds: 30, rate: 30 },
        { seconds: 60, rate: 120 },
      ],
      sizedFor: 30,
      changes: [{ at: 30, what: "↑" }],
    },
    {
      name: "ramp",
      what: "30/s, rising to 160/s from 10 s to 70 s, then flat; 100 s",
      segments: [{ seconds: 10, rate: 30 }, ...perSecond(60, (t) => 30 + (130 * t) / 60), { seconds: 30, rate: 160 }],
      sizedFor: 30,
      changes: [{ at: 70, what: "top" }],
    },
    {
      name: "sine",
      what: "100/s ± 60/s, one period of 120 s",
      segments: perSecond(120, (t) => 100 + 60 * Math.sin((2 * Math.PI * t) / 120)),
      sizedFor: 100,
      changes: [],
    },
    {
      name: "spike",
      what: "30/s, with 150/s for 6 s at 30 s; 150 s",
      segments: [
        { seconds: 30, rate: 30 },
        { seconds: 6, rate: 150 },
        { seconds: 114, rate: 30 },
      ],
      sizedFor: 30,
      changes: [{ at: 30, what: "↑", until: 36 }],
    },
    {
      name: "noisy-plateau",
      what: "100/s ± 20 %, a new value every 2 s; 80 s",
      segments: Array.from({ length: 40 }, () => ({ seconds: 2, rate: Math.round(100 * (0.8 + 0.4 * rnd())) })),
      sizedFor: 100,
      changes: [],
    },
  ];
}

function duration(trace: Trace): number {
  return trace.segments.reduce((sum, s) => sum + s.seconds, 0);
}

/** The trace's rate at `t` seconds (0 outside it). */
function rateAt(trace: Trace, t: number): number {
  if (t < 0) return 0;
  let start = 0;
  for (const s of trace.segments) {
    if (t < start + s.seconds) return s.rate;
    start += s.seconds;
  }
  return 0;
}

/** The job's --trace argument, with neighbouring segments of one rate merged. */
function traceArg(trace: Trace): string {
  const merged: Segment[] = [];
  for (const s of trace.segments) {
    const last = merged.at(-1);
    if (last && last.rate === s.rate) last.seconds += s.seconds;
    else merged.push({ ...s });
  }
  return merged.map((s) => `${s.seconds}:${s.rate}`).join(",");
}

/** The records the trace makes: the job's source computes the same integral (floored). */
function totalRecords(trace: Trace): number {
  return Math.floor(trace.segments.reduce((sum, s) => sum + s.seconds * s.rate, 0));
}

/** The parallelism nearest the target utilization at the rate the trace starts around. */
function initialParallelism(trace: Trace): number {
  return Math.max(1, Math.round(trace.sizedFor / (TARGET_UTILIZATION * PER_SUBTASK)));
}

/** One reading of the JobManager's REST. */
interface Sample {
  /** Seconds since the trace started (the source's first start). */
  t: number;
  state: string;
  /** The trace's rate at t. */
  arrival: number;
  /** Work's records in per second, summed over its running subtasks (measured by the JobManager). */
  processed: number;
  /**
   * The source's backlog as it reports it (pendingRecords: records due and not read yet; those read
   * and queued in network buffers are not in it); null while it does not report.
   */
  backlog: number | null;
  /** The source's back-pressure ratio and level (/backpressure; "unmeasured" before its first report). */
  backPressure: number;
  level: string;
  /** Work's parallelism and its subtasks RUNNING, and FINISHED (at the end: the input is over). */
  parallelism: number;
  running: number;
  finished: number;
  autoscaler: string;
  /** What the autoscaler last concluded for Work: its utilization and recommended parallelism, a scale-down waiting since when. */
  utilization: number | null;
  recommended: number | null;
  scaleDownPendingSince: number | null;
  /** Work's true processing rate per subtask, as the autoscaler last measured it. */
  trueRatePerSubtask: number | null;
}

interface TraceRun {
  trace: Trace;
  initial: number;
  /** From submission to the source's first start, s. */
  startupS: number;
  samples: Sample[];
  history: AutoscalerEvent[];
  counts: JobAutoscalerInfo["counts"];
  records: number;
}

interface Summary {
  ups: number;
  downs: number;
  path: number[];
  toEnough: Array<{ at: number; what: string; seconds: number | null }>;
  underCapacityS: number;
  backPressuredS: number;
  highS: number;
  runS: number;
  finalParallelism: number;
  ideal: number;
  /**
   * Per rescale: from the autoscaler's decision to every Work subtask running again, and the part
   * before the job stopped (the savepoint); `within` a sampling interval when it fell between two samples.
   */
  rescaleS: Array<{ total: number; untilStopped: number } | { within: number }>;
  trueRatePerSubtask: number | null;
}

async function runTrace(trace: Trace, log: (m: string) => void): Promise<TraceRun> {
  const work = mkdtempSync(join(tmpdir(), `riffle-bench-autoscaler-${trace.name}-`));
  const out = join(work, "out");
  const initial = initialParallelism(trace);
  const cluster = await TestCluster.start({ taskmanagers: 0, ...CLUSTER });
  try {
    const args = ["--out", out, "--trace", traceArg(trace), "--cost-ms", String(COST_MS), "--autoscaler", JSON.stringify(AUTOSCALER)];
    const jobId = await cluster.submit(JOB, { parallelism: initial, args });
    const first = await cluster.job(jobId);
    const source = first.vertices.find((v) => v.name === "Traced Source")!;
    const workVertex = first.vertices.find((v) => v.name.startsWith("Work"))!;
    const get = async <T>(path: string): Promise<T> => {
      const res = await cluster.rest<T>("GET", path);
      if (res.status !== 200) throw new Error(`GET ${path} gave ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body;
    };
    const raw: Array<{ at: number; job: JobDetails; bp: JobVertexBackPressure; pending: AggregatedMetrics; auto: JobAutoscalerInfo }> = [];
    /** The source's first start, when its records begin to arrive (the job's source takes its clock from there). */
    let origin: number | undefined;
    const deadline = Date.now() + (duration(trace) + 180) * 1000;
    let job = first;
    while (!["FINISHED", "FAILED", "CANCELED"].includes(job.state)) {
      if (Date.now() > deadline) throw new Error(`${trace.name}: the job is still ${job.state} ${duration(trace) + 180} s after its submission`);
      const at = Date.now();
      const [j, bp, pending, auto] = await Promise.all([
        get<JobDetails>(`/jobs/${jobId}`),
        get<JobVertexBackPressure>(`/jobs/${jobId}/vertices/${source.id}/backpressure`),
        get<AggregatedMetrics>(`/jobs/${jobId}/vertices/${source.id}/subtasks/metrics?get=pendingRecords&agg=sum`),
        get<JobAutoscalerInfo>(`/jobs/${jobId}/autoscaler`),
      ]);
      job = j;
      const src = job.vertices.find((v) => v.id === source.id)!;
      if (origin === undefined && src.tasks.RUNNING > 0 && src["start-time"] > 0) origin = src["start-time"];
      raw.push({ at, job, bp, pending, auto });
      await new Promise((r) => setTimeout(r, Math.max(0, at + SAMPLE_MS - Date.now())));
    }
    if (job.state !== "FINISHED") throw new Error(`${trace.name}: the job ended ${job.state}: ${JSON.stringify(job)}`);
    if (origin === undefined) throw new Error(`${trace.name}: the source was never seen running`);
    const final = await get<JobAutoscalerInfo>(`/jobs/${jobId}/autoscaler`);

    const samples: Sample[] = raw
      .filter((r) => r.at >= origin!)
      .map(({ at, job: j, bp, pending, auto }) => {
        const t = (at - origin!) / 1000;
        const w = j.vertices.find((v) => v.id === workVertex.id)!;
        const m = auto.vertices.find((v) => v.id === workVertex.id);
        const trueRate = m?.metrics?.trueProcessingRate;
        return {
          t,
          state: j.state,
          arrival: rateAt(trace, t),
          processed: w.metrics.numRecordsInPerSecond,
          backlog: pending.find((p) => p.id === "pendingRecords")?.sum ?? null,
          backPressure: Math.max(0, ...bp.subtasks.map((s) => s.ratio)),
          level: bp["backpressure-level"] ?? "unmeasured",
          parallelism: w.parallelism,
          running: w.tasks.RUNNING,
          finished: w.tasks.FINISHED,
          autoscaler: auto.state,
          utilization: m?.metrics?.utilization ?? null,
          recommended: m?.recommendedParallelism ?? null,
          scaleDownPendingSince: m?.scaleDownPendingSince == null ? null : (m.scaleDownPendingSince - origin!) / 1000,
          trueRatePerSubtask: trueRate != null && m ? trueRate / m.parallelism : null,
        };
      });

    // Every record once, whatever the rescales did.
    const lines = committedLines(out);
    const total = totalRecords(trace);
    const seen = new Set(lines);
    const wrong = lines.filter((l) => !(Number(l) >= 0 && Number(l) < total && String(Number(l)) === l));
    if (lines.length !== total || seen.size !== total || wrong.length > 0) {
      throw new Error(
        `${trace.name}: committed ${lines.length} records (${seen.size} distinct, ${wrong.length} not of the trace), expected each of 0..${total - 1} once`,
      );
    }
    log(`${trace.name}: ${final.history.filter((e) => e.type === "scaled").length} rescales, ${total} records each once, ${samples.length} samples`);
    return { trace, initial, startupS: (origin - first["start-time"]) / 1000, samples, history: final.history, counts: final.counts, records: total };
  } finally {
    await cluster.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** Sums the time between each sample and the next for which `holds` is true of the first. */
function timeWhere(samples: readonly Sample[], holds: (s: Sample) => boolean, until = Number.POSITIVE_INFINITY): number {
  let sum = 0;
  for (let i = 0; i + 1 < samples.length; i++) {
    const a = samples[i]!;
    if (a.t >= until) break;
    if (holds(a)) sum += Math.min(samples[i + 1]!.t, until) - a.t;
  }
  return sum;
}

/** Subtasks that finished have nothing left to take: at the end they count as capacity. */
const backPressured = (s: Sample) => s.level === "low" || s.level === "high";
const covers = (s: Sample) => (s.running + s.finished) * PER_SUBTASK >= s.arrival;

/**
 * The rescales as the samples show them: the autoscaler `rescaling`, the job stopped (or already at
 * another parallelism: a quick rescale may fall between two samples), then every subtask running at
 * the new parallelism. One that fell wholly between two samples shows only as a new parallelism.
 */
function rescaleTimes(samples: readonly Sample[]): Summary["rescaleS"] {
  const out: Summary["rescaleS"] = [];
  let decided: { t: number; parallelism: number } | undefined;
  let stopped: number | undefined;
  let previous: Sample | undefined;
  for (const s of samples) {
    const before = previous;
    previous = s;
    if (decided === undefined) {
      if (s.autoscaler === "rescaling") decided = { t: s.t, parallelism: s.parallelism };
      else if (before && s.parallelism !== before.parallelism) out.push({ within: s.t - before.t });
      continue;
    }
    const running = s.state === "RUNNING" && s.running === s.parallelism;
    if (stopped === undefined && (!running || s.parallelism !== decided.parallelism)) stopped = s.t;
    if (stopped !== undefined && running) {
      out.push({ total: s.t - decided.t, untilStopped: stopped - decided.t });
      decided = undefined;
      stopped = undefined;
    }
  }
  return out;
}

function summarize(run: TraceRun): Summary {
  const { trace, samples } = run;
  const end = duration(trace);
  const scaled = run.history.filter((e) => e.type === "scaled").flatMap((e) => e.vertices.filter((v) => v.vertexName.startsWith("Work")));
  const path = [run.initial, ...scaled.map((c) => c.to)];
  const toEnough = trace.changes.map((c, i) => {
    const next = c.until ?? trace.changes[i + 1]?.at ?? end;
    const window = samples.filter((s) => s.t >= c.at && s.t < next);
    // The first sample from which the running parallelism covers the arrivals for a metrics window (or until the next change).
    const k = window.findIndex((a) => window.every((b) => b.t < a.t || b.t >= a.t + HOLD_S || covers(b)) && (a.t + HOLD_S <= next || covers(window.at(-1)!)));
    return { at: c.at, what: c.what, seconds: k < 0 ? null : window[k]!.t - c.at };
  });
  const rates = samples.map((s) => s.trueRatePerSubtask).filter((r): r is number => r !== null);
  const lastRate = trace.segments.at(-1)!.rate;
  return {
    ups: scaled.filter((c) => c.to > c.from).length,
    downs: scaled.filter((c) => c.to < c.from).length,
    path,
    toEnough,
    underCapacityS: timeWhere(samples, (s) => !covers(s), end),
    backPressuredS: timeWhere(samples, backPressured),
    highS: timeWhere(samples, (s) => s.level === "high"),
    runS: samples.at(-1)?.t ?? 0,
    finalParallelism: path.at(-1)!,
    ideal: Math.ceil(lastRate / (TARGET_UTILIZATION * PER_SUBTASK)),
    rescaleS: rescaleTimes(samples),
    trueRatePerSubtask: rates.length === 0 ? null : rates.sort((a, b) => a - b)[Math.floor(rates.length / 2)]!,
  };
}

/** Arrivals, Work's measured records/s and its running parallelism × 50/s; back-pressured stretches shaded. */
function plot(run: TraceRun, s: Summary): string {
  const { samples } = run;
  const xMax = Math.ceil(s.runS / 10) * 10;
  const spans: Array<{ from: number; to: number }> = [];
  for (let i = 0; i + 1 < samples.length; i++) {
    if (!backPressured(samples[i]!)) continue;
    const last = spans.at(-1);
    if (last && last.to === samples[i]!.t) last.to = samples[i + 1]!.t;
    else spans.push({ from: samples[i]!.t, to: samples[i + 1]!.t });
  }
  const arrivals: Array<[number, number]> = [];
  for (let t = 0; t <= xMax; t += 0.5) arrivals.push([t, rateAt(run.trace, t)]);
  return lineChart({
    title: `${run.trace.name}: ${run.trace.what} — ${s.ups + s.downs} rescales, parallelism ${s.path.join(" → ")} (records/s over seconds)`,
    xMax,
    xTicks: Array.from({ length: Math.floor(xMax / 15) + 1 }, (_, i) => ({ at: i * 15, label: `${i * 15} s` })),
    lines: [
      { label: "arrivals (trace)", color: "#1f77b4", points: arrivals },
      { label: "Work records/s (measured)", color: "#2ca02c", points: samples.map((p) => [p.t, p.processed] as const) },
      { label: `running parallelism × ${PER_SUBTASK}/s`, color: "#ff7f0e", points: samples.map((p) => [p.t, p.running * PER_SUBTASK] as const) },
    ],
    bands: { label: "source back-pressured", color: "#d62728", spans },
  });
}

function seconds(x: number): string {
  return `${x.toFixed(1)} s`;
}

function table(rows: Array<{ run: TraceRun; s: Summary }>): string[] {
  return [
    "| trace | load | rescales (up/down) | parallelism over time | time to enough capacity | under capacity | source back-pressured (of it HIGH) | final vs ideal parallelism |",
    "|---|---|---|---|---|---|---|---|",
    ...rows.map(({ run, s }) => {
      const enough =
        s.toEnough.length === 0
          ? "—"
          : s.toEnough.map((c) => `${c.what} at ${c.at} s: ${c.seconds === null ? "not while the load lasted" : seconds(c.seconds)}`).join("; ");
      return `| ${run.trace.name} | ${run.trace.what} | ${s.ups + s.downs} (${s.ups}/${s.downs}) | ${s.path.join(" → ")} | ${enough} | ${seconds(s.underCapacityS)} | ${seconds(s.backPressuredS)} (${seconds(s.highS)}) | ${s.finalParallelism} vs ${s.ideal} |`;
    }),
  ];
}

export const autoscalerCluster: Benchmark = {
  name: "autoscaler-cluster",
  results: "autoscaler-cluster",
  async run(ctx: BenchmarkContext) {
    const loadBefore = loadavg()[0]!;
    const started = Date.now();
    const selected = ctx.quick ? traces().filter((t) => t.name === "step") : traces();
    const rows: Array<{ run: TraceRun; s: Summary }> = [];
    for (const trace of selected) {
      const run = await runTrace(trace, ctx.log);
      rows.push({ run, s: summarize(run) });
    }
    const loadAfter = loadavg()[0]!;
    const lines = table(rows);
    for (const line of lines) ctx.log(line);
    if (ctx.quick) {
      ctx.log("quick mode: bench/results/autoscaler-cluster.* left unchanged");
      return [];
    }
    const m = machine();
    const command = "node --import tsx bench/run.ts autoscaler-cluster";
    const settings = Object.entries(AUTOSCALER)
      .map(([k, v]) => `${k.replace("job.autoscaler.", "")} ${v}`)
      .join(", ");
    const md = [
      "# Autoscaler over load traces, on a real cluster",
      "",
      `\`${command}\` on ${m.cpu} (${m.cores} cores), Node ${m.node}, ${m.date.slice(0, 16).replace("T", " ")} UTC, ${((Date.now() - started) / 60_000).toFixed(1)} min; load average ${loadBefore.toFixed(1)} at the start, ${loadAfter.toFixed(1)} at the end.`,
      "",
      `Per trace a JobManager with the \`process\` provider (TaskManagers of 2 slots started by the JobManager, at most 3) runs e2e/jobs/traced-load.ts: a source whose records arrive at the trace's rate into a Work vertex of ${COST_MS} ms per record (a blocking wait: ${PER_SUBTASK} records/s per subtask), starting at the parallelism nearest the ${TARGET_UTILIZATION} target for the rate the trace starts around. Autoscaler: ${settings}; the rest default. Sampled from the JobManager's REST every ${SAMPLE_MS} ms. The same algorithm over hours at production settings, on a queueing model: [autoscaler.md](autoscaler.md).`,
      "",
      ...lines,
      "",
      `Time to enough capacity: from a rise of the load until Work's running subtasks × ${PER_SUBTASK}/s cover the arrival rate and keep covering it for ${HOLD_S} s or until the load changes again (a rescale's down time counts as no capacity). Under capacity: time within the trace when they did not. Source back-pressured: time the source's level at /jobs/:id/vertices/:vid/backpressure was LOW or HIGH (ratio > 0.1), from its start until the job finished; while the job is down for a rescale nothing is measured and records queue up as backlog. Ideal: ceil(final rate / (${TARGET_UTILIZATION} × ${PER_SUBTASK}/s)). Every run committed each of its records exactly once.`,
      "",
      "| trace | records | submission → source running | run (until FINISHED) | rescales: decision → every subtask running (of it, before the job stopped) | Work's true processing rate per subtask, median of the autoscaler's | autoscaler history |",
      "|---|---|---|---|---|---|---|",
      ...rows.map(
        ({ run, s }) =>
          `| ${run.trace.name} | ${run.records} | ${seconds(run.startupS)} | ${seconds(s.runS)} | ${s.rescaleS.map((r) => ("within" in r ? `< ${seconds(r.within)}` : `${seconds(r.total)} (${seconds(r.untilStopped)})`)).join(", ") || "—"} | ${s.trueRatePerSubtask === null ? "—" : `${s.trueRatePerSubtask.toFixed(1)}/s`} | ${run.history.map((e) => e.type).join(", ") || "nothing"} |`,
      ),
      "",
      ...rows.map(({ run }) => `![${run.trace.name}](autoscaler-cluster-${run.trace.name}.svg)`),
      "",
    ].join("\n");
    writeFileSync(join(RESULTS_DIR, "autoscaler-cluster.md"), md);
    for (const { run, s } of rows) writeFileSync(join(RESULTS_DIR, `autoscaler-cluster-${run.trace.name}.svg`), plot(run, s));
    const json = {
      command,
      machine: m,
      loadavg: { start: loadBefore, end: loadAfter },
      costMs: COST_MS,
      autoscaler: AUTOSCALER,
      cluster: CLUSTER,
      traces: rows.map(({ run, s }) => ({
        name: run.trace.name,
        what: run.trace.what,
        trace: traceArg(run.trace),
        initialParallelism: run.initial,
        records: run.records,
        startupS: run.startupS,
        summary: s,
        history: run.history,
        counts: run.counts,
        samples: run.samples,
      })),
    };
    // One line per sample (flat objects that start with "t"): a few hundred of them per trace.
    const text = JSON.stringify(json, null, 1).replace(/\{\n\s*"t": [^{}]*\}/g, (sample) => sample.replace(/\n\s*/g, " "));
    writeFileSync(join(RESULTS_DIR, "autoscaler-cluster.json"), `${text}\n`);
    ctx.log(`written: ${RESULTS_DIR}autoscaler-cluster.{md,json} and one SVG per trace`);
    return [];
  },
};
