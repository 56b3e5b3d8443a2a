/**
 * The load cases of the autoscaler's end-to-end tests (e2e/autoscaler.test.ts), shared with the
 * script that records their metric series for the unit tests (bench/dev/record-autoscaler-series.ts):
 * the traced-load job (e2e/jobs/traced-load.ts) on a cluster whose TaskManagers the JobManager's
 * `process` provider starts and releases.
 */
import { join } from "node:path";
import type { ClusterOptions } from "./harness/index.js";
import { mulberry32 } from "./harness/index.js";

export const TRACED_LOAD_JOB = "e2e/jobs/traced-load.ts";
/** 20 ms a record: 50 records per second per Work subtask. */
export const COST_MS = 20;

/** The job's autoscaler settings: the same algorithm as in production, on a timescale of seconds. */
export const AUTOSCALER: Record<string, string | number> = {
  "job.autoscaler.interval": "1s",
  "job.autoscaler.metrics.window": "10s",
  "job.autoscaler.stabilization.interval": "3s",
  "job.autoscaler.catch-up.duration": "0s",
  "job.autoscaler.scale-down.interval": "10m",
  "job.autoscaler.vertex.max-parallelism": 6,
};

export interface TraceCase {
  name: string;
  /** `seconds:rate,...` for the traced source. */
  trace: string;
  /** Records in the trace: a finished run commits 0..total-1, once each. */
  total: number;
  parallelism: number;
  /** Overrides of AUTOSCALER. */
  autoscaler?: Record<string, string | number>;
  slotsPerTaskManager: number;
  maxTaskManagers: number;
  /** Work's cost paid under one lock for all its subtasks: a vertex that cannot go faster. */
  sharedLock?: boolean;
  /** Work's cost per record; default COST_MS. */
  costMs?: number;
  /** Settings for every process of the cluster, beyond the case's slots. */
  config?: Record<string, string | number>;
}

/** Records in a trace. */
export function traceTotal(trace: string): number {
  return Math.floor(
    trace.split(",").reduce((sum, part) => {
      const [seconds, rate] = part.split(":").map(Number);
      return sum + seconds! * rate!;
    }, 0),
  );
}

/** 30/s for 25 s (Work at 60 % of one subtask), then 120/s for 45 s. */
export const STEP_UP: TraceCase = {
  name: "step-up",
  trace: "25:30,45:120",
  total: traceTotal("25:30,45:120"),
  parallelism: 1,
  slotsPerTaskManager: 2,
  maxTaskManagers: 3,
};

/**
 * 80/s for 25 s on 2 subtasks (80 % of 100/s), then 15/s, which one subtask takes at 30 %. One slot
 * per TaskManager, so that the scale-down leaves a whole TaskManager idle for the resource manager to release.
 */
export const STEP_DOWN: TraceCase = {
  name: "step-down",
  trace: "25:80,50:15",
  total: traceTotal("25:80,50:15"),
  parallelism: 2,
  autoscaler: { "job.autoscaler.scale-down.interval": "12s" },
  slotsPerTaskManager: 1,
  maxTaskManagers: 3,
};

/**
 * 8/s for 15 s, then 80/s, into a Work whose subtasks pay 30 ms a record under one lock: 33/s in
 * all, whatever its parallelism. (8/s, not more: on a loaded machine one subtask measured as slow as
 * 14/s, and the step must come before any scale-up.) What each record costs outside the lock (the
 * task loop, the network, the lock's file operations: 3 to 12 ms measured, more under load) does run
 * in parallel, so a scale-up still gains some throughput (31 → 46/s measured for 1 → 3 at 20 ms a
 * record); with Flink's threshold of 10 % of the promised gain, that counted as effective on a loaded
 * machine and brought a second scale-up. Half of the promised gain tells the two apart: at 30 ms it
 * holds while one subtask reaches more than 17/s, and a vertex that does scale gains about all of it.
 */
export const INEFFECTIVE: TraceCase = {
  name: "ineffective",
  trace: "15:8,60:80",
  total: traceTotal("15:8,60:80"),
  parallelism: 1,
  autoscaler: { "job.autoscaler.scaling.effectiveness.threshold": 0.5 },
  slotsPerTaskManager: 2,
  maxTaskManagers: 3,
  sharedLock: true,
  costMs: 30,
  // Small network buffers: a rescale's savepoint barrier waits behind what the source pushed into
  // them, and 32 KiB segments hold thousands of these small records (800 in flight at Work's 30/s:
  // 28 s for the savepoint, 43 s for the rescale, measured).
  config: {
    "taskmanager.memory.segment-size": "1kb",
    "taskmanager.network.max-buffers-per-subpartition": 2,
    "taskmanager.network.floating-buffers-per-gate": 2,
  },
};

/** Seconds per segment of the noisy plateau. */
export const NOISY_SEGMENT_S = 2;

/**
 * A noisy plateau whose noise leaves the autoscaler's band (utilization 0.4–1.0 of one subtask's
 * 50/s) for a segment at a time while every window of 10 s stays inside it: 2-s segments around
 * 27/s (0.54), and in every 10 s one burst above capacity (60–70/s, 1.2–1.4) and one lull (8–12/s,
 * 0.16–0.24) at seeded places, bursts and lulls alternating, so that no window holds two of one
 * kind without one of the other. An autoscaler that averages over its window keeps the job; one
 * that acts on instantaneous readings rescales it.
 */
export function noisyPlateau(seed = 12, blocks = 6): TraceCase & { rates: number[] } {
  const rnd = mulberry32(seed);
  const between = (lo: number, hi: number) => Math.round(lo + (hi - lo) * rnd());
  const rates: number[] = [];
  let burstNext = rnd() < 0.5;
  for (let b = 0; b < blocks; b++) {
    const i = Math.floor(rnd() * 5);
    const j = (i + 1 + Math.floor(rnd() * 4)) % 5;
    for (let k = 0; k < 5; k++) {
      if (k === i || k === j) {
        rates.push(burstNext ? between(60, 70) : between(8, 12));
        burstNext = !burstNext;
      } else rates.push(between(24, 30));
    }
  }
  const trace = rates.map((r) => `${NOISY_SEGMENT_S}:${r}`).join(",");
  return {
    name: "noisy-plateau",
    trace,
    total: traceTotal(trace),
    parallelism: 1,
    // A short scale-down delay: a lull that counted would scale the job down within the test.
    autoscaler: { "job.autoscaler.scale-down.interval": "2s" },
    slotsPerTaskManager: 2,
    maxTaskManagers: 3,
    rates,
  };
}

/** A cluster with no TaskManagers of its own: the JobManager's process provider starts them, and releases those idle for 5 s. */
export function processProviderCluster(c: TraceCase, work: string, jobmanager: Record<string, string | number> = {}): ClusterOptions {
  return {
    taskmanagers: 0,
    config: { "heartbeat.interval": "500ms", "taskmanager.slots": c.slotsPerTaskManager, ...c.config },
    jobmanager: {
      "state.savepoints.dir": join(work, `${c.name}-savepoints`),
      "resourcemanager.provider": "process",
      "resourcemanager.taskmanagers.max": c.maxTaskManagers,
      "resourcemanager.taskmanager-timeout": "5s",
      ...jobmanager,
    },
  };
}

/** The traced-load job's arguments for a case; `autoscaler` overrides the case's settings. */
export function jobArgs(c: TraceCase, out: string, work: string, autoscaler: Record<string, string | number> = {}): string[] {
  return [
    "--out",
    out,
    "--trace",
    c.trace,
    "--cost-ms",
    String(c.costMs ?? COST_MS),
    ...(c.sharedLock ? ["--shared-lock", join(work, `${c.name}.lock`)] : []),
    "--autoscaler",
    JSON.stringify({ ...AUTOSCALER, ...c.autoscaler, ...autoscaler }),
  ];
}
