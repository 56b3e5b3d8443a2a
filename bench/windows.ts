/**
 * Benchmark — sliding against tumbling event-time windows (1 JobManager + 1 TaskManager of one slot,
 * parallelism 1, memory backend, no checkpoints): datagen of events over 100k keys, event time
 * advancing 100k events per second (one event per key per second) → bounded out-of-orderness
 * watermarks (500 ms) → keyBy → count per key in 10 s windows → discarding sink (bench/jobs/windows.ts):
 *
 *   tumbling            TumblingEventTimeWindows.of(10 s)                 a result per 10 events
 *   sliding             SlidingEventTimeWindows.of(10 s, 1 s), sliced      a result per event
 *   sliding-per-window  the same with .trigger(EventTimeTrigger.create())  a result per event, 10 windows per event
 *
 * Steady state, not bounded jobs: at the end of input every window still open fires at once (for
 * sliding, 10 per key: 1M results, as much work as 1M events), which would swamp a run of a few
 * seconds. So each variant runs as one unbounded job, and the window task notes the time at which it
 * adds events 0, P, 2P, ... (P = 1M events, one tumbling period, for tumbling; 100k, one slide, for
 * sliding): fire rounds come 50k events after each event-time boundary, so a stretch between two
 * marks holds exactly the fire rounds of its events. After a warm-up of at least WARMUP_SECONDS, the
 * benchmark takes `runs` consecutive stretches of k periods (k sized for about TARGET_SECONDS each);
 * each stretch is one sample. The job is cancelled after.
 *
 * Rows: sliding (sliced) with tumbling as the baseline, ratio = sliding / tumbling throughput (aim
 * ≥ 0.1: sliding should cost well under 10× tumbling; the cost factor, tumbling / sliding, is in the
 * parameters), and the per-window path of the same sliding windows (informative).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { Benchmark, BenchmarkContext, Measured } from "./benchmark.js";
import { EVENTS_PER_SECOND, KEYS, OUT_OF_ORDERNESS_MS, WINDOW_SIZE_MS, WINDOW_SLIDE_MS, type WindowKind } from "./jobs/windows.js";
import { formatCount } from "./report.js";
import { benchJob, cancelJob, sleep, startCluster, type TestCluster } from "./riffle.js";
import { median } from "./stats.js";

const WARMUP_SECONDS = 5;
const TARGET_SECONDS = 3;
/** Events between marks: one tumbling period (a fire round per key), or one slide. */
const PERIOD: Record<WindowKind, number> = { tumbling: (KEYS * WINDOW_SIZE_MS) / 1000, sliding: KEYS, "sliding-per-window": KEYS };

interface Stretches {
  /** Events per second of each stretch. */
  rates: number[];
  /** Events per stretch. */
  events: number;
  /** Events before the first stretch. */
  warmupEvents: number;
}

/** Marks written so far: event index → epoch ms. */
function readMarks(file: string): Map<number, number> {
  const marks = new Map<number, number>();
  if (!existsSync(file)) return marks;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const [i, t] = line.split(" ");
    if (i && t) marks.set(Number(i), Number(t));
  }
  return marks;
}

async function measureStretches(cluster: TestCluster, kind: WindowKind, runs: number, warmupSeconds: number, targetSeconds: number): Promise<Stretches> {
  const dir = mkdtempSync(join(tmpdir(), "riffle-bench-windows-"));
  const file = join(dir, "marks.txt");
  const period = PERIOD[kind];
  const jobId = await cluster.submit(benchJob("windows"), { parallelism: 1, args: ["--window", kind, "--marks", file, "--mark-every", String(period)] });
  try {
    const deadline = performance.now() + 300_000;
    let start: number | undefined;
    let stretch = 0;
    let lastCheck = 0;
    for (;;) {
      if (performance.now() > deadline) throw new Error(`${kind}: no ${runs} stretches within 300 s; marks: ${JSON.stringify([...readMarks(file)])}`);
      await sleep(100);
      if (performance.now() - lastCheck > 1000) {
        lastCheck = performance.now();
        const job = await cluster.job(jobId);
        if (job.state !== "RUNNING" || Number(job.numRestarts) > 0)
          throw new Error(`${kind}: job is ${job.state} after ${job.numRestarts} restart(s): ${JSON.stringify(job.failure)}`);
      }
      const marks = readMarks(file);
      const origin = marks.get(0);
      if (origin === undefined) continue;
      if (start === undefined) {
        // The first mark at least warmupSeconds in (and two periods, for a rate), sizing the stretches
        // by the last period before it.
        for (let i = 2 * period; marks.has(i); i += period) {
          if (marks.get(i)! - origin < warmupSeconds * 1000) continue;
          start = i;
          const secondsPerPeriod = (marks.get(i)! - marks.get(i - period)!) / 1000;
          stretch = period * Math.max(1, Math.round(targetSeconds / secondsPerPeriod));
          break;
        }
        if (start === undefined) continue;
      }
      if (!marks.has(start + runs * stretch)) continue;
      const rates: number[] = [];
      for (let r = 0; r < runs; r++) {
        const from = start + r * stretch;
        rates.push((stretch / (marks.get(from + stretch)! - marks.get(from)!)) * 1000);
      }
      return { rates, events: stretch, warmupEvents: start };
    }
  } finally {
    await cancelJob(cluster, jobId);
    rmSync(dir, { recursive: true, force: true });
  }
}

export const windows: Benchmark = {
  name: "windows",
  results: "eventtime",
  async run(ctx: BenchmarkContext): Promise<Measured[]> {
    const warmupSeconds = ctx.quick ? 2 : WARMUP_SECONDS;
    const targetSeconds = ctx.quick ? 1 : TARGET_SECONDS;
    const load = loadavg()[0]!;
    const cluster = await startCluster({ taskmanagers: 1 }, ctx.profileDir && `${ctx.profileDir}/windows`);
    try {
      ctx.log(
        `load average ${load.toFixed(2)}; per variant one unbounded job: ${warmupSeconds} s warm-up, then ${ctx.runs} stretch(es) of about ${targetSeconds} s`,
      );
      const measured = {} as Record<WindowKind, Stretches>;
      for (const kind of ["tumbling", "sliding", "sliding-per-window"] as const) {
        const m = await measureStretches(cluster, kind, ctx.runs, warmupSeconds, targetSeconds);
        measured[kind] = m;
        ctx.log(`${kind}: after ${m.warmupEvents} events, stretches of ${m.events} events: ${m.rates.map((r) => `${Math.round(r)} rec/s`).join(", ")}`);
      }
      const tumbling = measured.tumbling;
      const parameters = (kind: WindowKind) => ({
        keys: KEYS,
        eventTimeRate: `${formatCount(EVENTS_PER_SECOND)} events/s`,
        outOfOrdernessMs: OUT_OF_ORDERNESS_MS,
        watermarkIntervalMs: 50,
        backend: "memory",
        checkpoints: "none",
        taskmanagers: 1,
        parallelism: 1,
        stretches: ctx.runs,
        stretchEvents: `${formatCount(measured[kind].events)} (tumbling ${formatCount(tumbling.events)})`,
        warmupEvents: `${formatCount(measured[kind].warmupEvents)} (tumbling ${formatCount(tumbling.warmupEvents)})`,
        costVsTumbling: `${(median(tumbling.rates) / median(measured[kind].rates)).toFixed(1)}×`,
        loadAvg1m: +load.toFixed(2),
      });
      const size = `${WINDOW_SIZE_MS / 1000} s`;
      const slide = `${WINDOW_SLIDE_MS / 1000} s`;
      return [
        {
          benchmark: "windows",
          metric: "throughput sliding",
          title: `Sliding windows (${size} every ${slide}, sliced) vs tumbling (${size}): count per key over ${formatCount(KEYS)} keys, p=1`,
          value: median(measured.sliding.rates),
          unit: "rec/s",
          baseline: { name: "tumbling windows", value: median(tumbling.rates) },
          better: "higher",
          aim: { min: 0.1 },
          parameters: parameters("sliding"),
          samples: { value: measured.sliding.rates, baseline: tumbling.rates },
        },
        {
          benchmark: "windows",
          metric: "throughput sliding per-window",
          title: `Sliding windows (${size} every ${slide}) per window (EventTimeTrigger, unsliced) vs tumbling, p=1`,
          value: median(measured["sliding-per-window"].rates),
          unit: "rec/s",
          baseline: { name: "tumbling windows", value: median(tumbling.rates) },
          better: "higher",
          parameters: parameters("sliding-per-window"),
          samples: { value: measured["sliding-per-window"].rates, baseline: tumbling.rates },
        },
      ];
    } finally {
      await cluster.stop();
    }
  },
};
