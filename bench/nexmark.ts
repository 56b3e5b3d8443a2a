/**
 * Benchmark — Nexmark q0, q1, q2, q5 and q7 (examples/nexmark) at parallelism 1 and 2, exactly-once
 * checkpoints every second on the leveldb backend, next to the fused hand-written loop of each query
 * and Flink's published per-core figures.
 *
 * Cluster: 1 JobManager + 2 TaskManagers of one slot each (Node runs one event loop per process, so
 * two cores take two processes); a p=1 job runs on one of them while the other idles. The job
 * (bench/jobs/nexmark.ts) is examples/nexmark's source and query into a discarding sink, on Nexmark's
 * workload (10M events/s of event time, in order: a run of a few million events spans well under
 * one 10 s window, so q5 and q7 fire their windows at the end of input, as part of the run).
 *
 * Spread rows ("events over 120 s of event time"): q5 and q7 once more, with the same number of
 * events per run spread over SPREAD_EVENT_TIME_SECONDS of event time (an event-time rate of
 * events / 120 s, given to the job's source and to the fused loop alike). Windows then fire all
 * through the run as the watermark advances: q5's 10 s window sliding by 2 s about 60 times, q7's
 * 10 s tumbling window 12 times, each with its share of the keys. These rows measure the windows'
 * firing and state clean-up during the run, which the default rows do once at the end. Every run's
 * log line gives when the sink got its first row (firstOutputMs after RUNNING): early in a spread
 * run, at the end of a default one.
 *
 * Riffle: N events / (end − RUNNING), per core = ÷ parallelism, where end is the moment the job's
 * last record was processed: the latest of each source's end of input and each sink's last write,
 * which the job notes in files. Not FINISHED: with checkpoints, a bounded job's sources wait for a
 * final checkpoint (the next periodic trigger, up to one interval of idling) before the job can
 * finish. FINISHED − RUNNING is in the parameters as perCoreByFinished. The interval (1 s) makes
 * checkpoints happen during every run: their cost is in the numbers. Runs are calibrated to last
 * about TARGET_SECONDS, after warm-up jobs. A run whose job restarted fails the benchmark (q5 fires
 * all its windows in one synchronous step at the end of input: seconds for a few million events, and
 * an event loop blocked past the 5 s gRPC keepalive timeout loses the TaskManager). q7's window is a
 * windowAll, parallelism 1 at any p: at p=2 one task takes every bid, and per core still divides by 2.
 *
 * Baseline: examples/nexmark/fused.ts's loop of the same query over the p=1 run's events (at the same
 * event-time rate), events/s on one core, in a child process (bench/baselines/nexmark-fused.ts); the
 * ratio is Riffle's per-core rate over it. The p=1 job's sink must have got exactly as many rows as
 * the fused loop put out over the same events, or the benchmark fails (no check at p=2, whose runs
 * have twice the events). Flink's figure (Nexmark on Flink 1.13, exactly-once, RocksDB, 8 TaskManagers of one
 * slot: examples/nexmark/README.md) is the parameter flinkPerCore, shown in a column of its own (not
 * on the spread rows: Flink's figures are at 10M events/s of event time).
 * Informative: no aim.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { Benchmark, BenchmarkContext, Measured } from "./benchmark.js";
import { type FusedQueryName, measureNexmarkFused } from "./baselines/nexmark-fused.js";
import { benchJob, type CheckpointEntry, calibrate, checkpointDir, checkpointStatistics, type JobTiming, startCluster, type TestCluster } from "./riffle.js";
import { median, roundCount } from "./stats.js";

const QUERIES: readonly FusedQueryName[] = ["q0", "q1", "q2", "q5", "q7"];
/** Queries measured a second time with their events spread over SPREAD_EVENT_TIME_SECONDS of event time. */
const SPREAD_QUERIES: readonly FusedQueryName[] = ["q5", "q7"];
/** Event time a spread run's events cover, whatever their number: windows fire many times per run. */
const SPREAD_EVENT_TIME_SECONDS = 120;

/** One query as measured: at Nexmark's event-time rate, or with its events over `eventTimeSeconds` of event time. */
interface Case {
  query: FusedQueryName;
  eventTimeSeconds: number | undefined;
}
const CASES: readonly Case[] = [
  ...QUERIES.map((query) => ({ query, eventTimeSeconds: undefined })),
  ...SPREAD_QUERIES.map((query) => ({ query, eventTimeSeconds: SPREAD_EVENT_TIME_SECONDS })),
];
/** Nexmark's event-time rate (the generator's default): the rate of the default rows. */
const NEXMARK_EVENTS_PER_SECOND = 10_000_000;

/** The event-time rate of a run of `events` events of `c`: undefined for Nexmark's default. */
function eventTimeRate(c: Case, events: number): number | undefined {
  return c.eventTimeSeconds === undefined ? undefined : events / c.eventTimeSeconds;
}
const PARALLELISMS = [1, 2] as const;
/** Events/s per core, Nexmark on Flink 1.13 (nexmark/nexmark GUIDE_V1.md). */
export const FLINK_PER_CORE: Record<FusedQueryName, number> = { q0: 155_000, q1: 158_000, q2: 175_000, q5: 22_000, q7: 12_000 };
const DESCRIPTION: Record<FusedQueryName, string> = {
  q0: "pass-through",
  q1: "currency conversion",
  q2: "selection",
  q5: "hot items: sliding-window bid counts",
  q7: "highest bid: tumbling-window max",
};
const CHECKPOINT_INTERVAL_MS = 1000;
const BACKEND = "leveldb";
const TARGET_SECONDS = 3.5;
/** p=2's warm-up job: about this long at twice p=1's rate. */
const WARMUP_SECONDS = 2;
/** Events of the p=1 warm-up job that sizes the p=1 runs. */
const WARMUP_EVENTS: Record<FusedQueryName, number> = { q0: 2_000_000, q1: 2_000_000, q2: 2_000_000, q5: 300_000, q7: 1_000_000 };
/** Quick mode: events of the p=1 runs (p=2: twice as many; warm-ups: half as many). */
const QUICK_EVENTS: Record<FusedQueryName, number> = { q0: 1_000_000, q1: 1_000_000, q2: 1_000_000, q5: 200_000, q7: 500_000 };

interface NexmarkRun extends JobTiming {
  /** FINISHED − RUNNING: runningMs plus the wait for the final checkpoint and the teardown. */
  finishedMs: number;
  /** Checkpoints completed that were triggered before the last record was processed. */
  checkpoints: CheckpointEntry[];
  /** Rows the sink got, over its subtasks. */
  sinkWrites: number;
  /** From RUNNING to the first row at the sink (event-time queries: the first window fired). */
  firstOutputMs: number;
}

interface SourceMark {
  endedAt: number;
}
interface SinkMark {
  writes: number;
  firstWriteAt: number | null;
  lastWriteAt: number | null;
}

/**
 * Runs `query` on `events` events at `parallelism` (at the event-time rate `eventsPerSecond`, default
 * Nexmark's) and times it up to its last processed record.
 */
async function timeNexmark(
  cluster: TestCluster,
  query: FusedQueryName,
  parallelism: number,
  events: number,
  eventsPerSecond: number | undefined,
): Promise<NexmarkRun> {
  const marks = mkdtempSync(join(tmpdir(), "riffle-bench-nexmark-"));
  try {
    const args = ["--query", query, "--count", String(events), "--checkpoint-interval", String(CHECKPOINT_INTERVAL_MS), "--backend", BACKEND, "--marks", marks];
    if (eventsPerSecond !== undefined) args.push("--events-per-second", String(eventsPerSecond));
    const jobId = await cluster.submit(benchJob("nexmark"), { parallelism, args });
    const job = await cluster.waitForStatus(jobId, "FINISHED", 300_000);
    // A restart resets RUNNING and replays from a checkpoint: the timing would mean nothing.
    if (Number(job.numRestarts) > 0)
      throw new Error(`nexmark ${query} p=${parallelism} (${events} events) restarted ${job.numRestarts} time(s); see the JobManager's log`);
    const ts = job.timestamps as Record<string, number> | undefined;
    const running = ts?.RUNNING;
    const finished = ts?.FINISHED;
    if (!running || !finished) throw new Error(`job ${jobId} has no RUNNING/FINISHED timestamps: ${JSON.stringify(ts)}`);
    const files = readdirSync(marks);
    const sources = files.filter((f) => f.startsWith("source-")).map((f) => JSON.parse(readFileSync(join(marks, f), "utf8")) as SourceMark);
    const sinks = files.filter((f) => f.startsWith("sink-")).map((f) => JSON.parse(readFileSync(join(marks, f), "utf8")) as SinkMark);
    if (sources.length !== parallelism || sinks.length === 0)
      throw new Error(`job ${jobId} left marks ${JSON.stringify(files)}, expected ${parallelism} sources and a sink`);
    const end = Math.max(...sources.map((s) => s.endedAt), ...sinks.map((s) => s.lastWriteAt ?? Number.NEGATIVE_INFINITY));
    const runningMs = Math.max(1, end - running);
    const stats = await checkpointStatistics(cluster, jobId);
    const checkpoints = stats.history.filter((c) => c.status === "COMPLETED" && c.trigger_timestamp < end).reverse();
    const sinkWrites = sinks.reduce((n, m) => n + m.writes, 0);
    const firstOutputMs = Math.min(...sinks.map((m) => m.firstWriteAt ?? Number.POSITIVE_INFINITY)) - running;
    return {
      jobId,
      records: events,
      runningMs,
      recordsPerSecond: (events / runningMs) * 1000,
      job,
      finishedMs: finished - running,
      checkpoints,
      sinkWrites,
      firstOutputMs,
    };
  } finally {
    rmSync(marks, { recursive: true, force: true });
  }
}

/** Medians of the checkpoints taken during the runs: what they cost the job. */
function describeCheckpoints(checkpoints: readonly CheckpointEntry[]): string {
  if (checkpoints.length === 0) return "none";
  const m = (f: (c: CheckpointEntry) => number) => Math.round(median(checkpoints.map(f)));
  return `end-to-end ${m((c) => c.end_to_end_duration)} ms, alignment ${m((c) => c.alignment_duration)} ms, sync ${m((c) => c.sync_duration)} ms, async ${m((c) => c.async_duration)} ms, ${m((c) => c.state_size)} B`;
}

interface Side {
  events: number;
  overheadMs: number;
  runs: NexmarkRun[];
}

export const nexmark: Benchmark = {
  name: "nexmark",
  results: "eventtime",
  async run(ctx: BenchmarkContext): Promise<Measured[]> {
    const load = loadavg()[0]!;
    const dir = checkpointDir();
    const cluster = await startCluster(
      { taskmanagers: 2, taskmanager: { "taskmanager.slots": 1 }, config: { "state.checkpoints.dir": dir } },
      ctx.profileDir && `${ctx.profileDir}/nexmark`,
    );
    const results: Measured[] = [];
    try {
      ctx.log(`load average ${load.toFixed(2)}; checkpoints every ${CHECKPOINT_INTERVAL_MS} ms on ${BACKEND}; ${ctx.runs} run(s) per side`);
      for (const c of CASES) {
        const { query } = c;
        const label = c.eventTimeSeconds === undefined ? query : `${query} over ${c.eventTimeSeconds} s of event time`;
        const sides = {} as Record<(typeof PARALLELISMS)[number], Side>;
        // p=1 first, on one TaskManager. p=2's warm-up job (which warms both) is sized from p=1's rate
        // to last about WARMUP_SECONDS at twice that rate: a short one would size the runs by noise.
        let warmupEvents = ctx.quick ? QUICK_EVENTS[query] / 2 : WARMUP_EVENTS[query];
        for (const p of PARALLELISMS) {
          const cal = await calibrate((events) => timeNexmark(cluster, query, p, events, eventTimeRate(c, events)), {
            warmupRecords: warmupEvents,
            targetSeconds: TARGET_SECONDS,
          });
          const events = ctx.quick ? QUICK_EVENTS[query] * p : cal.records;
          sides[p] = { events, overheadMs: cal.overheadMs, runs: [] };
          ctx.log(
            `${label} p=${p}: job overhead ${cal.overheadMs} ms, warm-up ${warmupEvents} events at ${Math.round(cal.warmupRate)} events/s; measuring ${events} events`,
          );
          if (!ctx.quick) warmupEvents = roundCount(cal.warmupRate * 2 * WARMUP_SECONDS);
        }
        const fused: number[] = [];
        for (let run = 0; run < ctx.runs; run++) {
          // Alternating the sides spreads slow phases of a shared machine over all three.
          const line: string[] = [];
          for (const p of PARALLELISMS) {
            const r = await timeNexmark(cluster, query, p, sides[p].events, eventTimeRate(c, sides[p].events));
            sides[p].runs.push(r);
            line.push(
              `p=${p} ${Math.round(r.recordsPerSecond / p)} events/s/core (${r.runningMs} ms, first row at the sink after ${r.firstOutputMs} ms, ${r.sinkWrites} rows, FINISHED after ${r.finishedMs} ms, ${r.checkpoints.length} checkpoint(s))`,
            );
          }
          const f = await measureNexmarkFused(query, sides[1].events, eventTimeRate(c, sides[1].events));
          fused.push(f.eventsPerSecond);
          line.push(`fused loop ${Math.round(f.eventsPerSecond)} events/s (${f.outputs} rows)`);
          ctx.log(`${label} run ${run + 1}: ${line.join(", ")}`);
          // Same events, same query: the p=1 job must have put out exactly the fused loop's rows.
          const p1 = sides[1].runs.at(-1)!;
          if (p1.sinkWrites !== f.outputs)
            throw new Error(`nexmark ${label} p=1 (${sides[1].events} events): the sink got ${p1.sinkWrites} rows, the fused loop put out ${f.outputs}`);
        }
        for (const p of PARALLELISMS) {
          const side = sides[p];
          const perCore = side.runs.map((r) => r.recordsPerSecond / p);
          const rate = eventTimeRate(c, side.events) ?? NEXMARK_EVENTS_PER_SECOND;
          const spread = c.eventTimeSeconds === undefined ? "" : `, events over ${c.eventTimeSeconds} s of event time`;
          results.push({
            benchmark: "nexmark",
            metric: `throughput ${query} p=${p}${c.eventTimeSeconds === undefined ? "" : ` event time ${c.eventTimeSeconds} s`}`,
            title: `Nexmark ${query} (${DESCRIPTION[query]})${spread}, p=${p}${p === 1 ? "" : " on 2 TaskManagers"}, per core`,
            value: median(perCore),
            unit: "events/s/core",
            baseline: { name: "fused loop", value: median(fused) },
            better: "higher",
            parameters: {
              events: side.events,
              eventTimeEventsPerSecond: Math.round(rate),
              eventTimeSpanMs: Math.floor(((side.events - 1) * 1000) / rate),
              runs: ctx.runs,
              taskmanagers: "2 × 1 slot",
              checkpointIntervalMs: CHECKPOINT_INTERVAL_MS,
              backend: BACKEND,
              checkpointsPerRun: side.runs.map((r) => r.checkpoints.length).join("/"),
              checkpointMedians: describeCheckpoints(side.runs.flatMap((r) => r.checkpoints)),
              perCoreByFinished: Math.round(median(side.runs.map((r) => side.events / r.finishedMs / p)) * 1000),
              jobOverheadMs: side.overheadMs,
              fusedEvents: sides[1].events,
              sinkRowsPerRun: side.runs.map((r) => r.sinkWrites).join("/"),
              firstOutputMsPerRun: side.runs.map((r) => r.firstOutputMs).join("/"),
              loadAvg1m: +load.toFixed(2),
              ...(c.eventTimeSeconds === undefined ? { flinkPerCore: FLINK_PER_CORE[query] } : {}),
            },
            samples: { value: perCore, baseline: fused },
          });
        }
      }
      return results;
    } finally {
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
