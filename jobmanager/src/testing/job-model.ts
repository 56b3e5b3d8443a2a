import { type JobGraph, ManualClock, RiffleError, loadConfig } from "@riffle/shared";
import type { MetricsSample } from "../autoscaler/algorithm.js";
import { type AutoscaledJob, type AutoscalerEvent, JobAutoscaler, type ScalingRealizer } from "../autoscaler/job-autoscaler.js";
import { resolveAutoscalerSettings } from "../autoscaler/settings.js";
import { silentLogger } from "./fixtures.js";

/**
 * Metric series for the autoscaler's tests and benchmarks, replayed with a manual clock. They come from a
 * queueing model of a two-vertex job, source (parallelism 1) ─rebalance─► work: `arrival(t)` records
 * per second arrive at the source; work processes `perSubtask` records per second per subtask (or
 * `total` in all, whatever its parallelism: a vertex that cannot go faster); what work cannot take
 * waits in the source's backlog. Each sample carries what the TaskManagers would report for that
 * moment: the rates, the busiest subtask's busy time and the backlog.
 */
export interface Model {
  arrival: (tSeconds: number) => number;
  perSubtask?: number;
  total?: number;
  parallelism: number;
  /** How long a rescale stops the job (it processes nothing meanwhile, and records keep arriving); default 0. */
  rescaleDowntimeMs?: number;
}

export function settings(overrides: Record<string, unknown> = {}) {
  const config = loadConfig({
    env: {},
    file: "/dev/null",
    overrides: {
      "job.autoscaler.enabled": true,
      "job.autoscaler.interval": "10s",
      "job.autoscaler.metrics.window": "2m",
      "job.autoscaler.stabilization.interval": "30s",
      "job.autoscaler.scale-down.interval": "10m",
      "job.autoscaler.catch-up.duration": "0s",
      ...overrides,
    },
  });
  return resolveAutoscalerSettings(config, {});
}

function graphOf(parallelism: number): JobGraph {
  return {
    name: "model",
    maxParallelism: 128,
    bufferTimeoutMs: 100,
    checkpointing: { intervalMs: 1000 },
    functionCount: 2,
    vertices: [
      { id: "src", name: "Source", parallelism: 1, maxParallelism: 128, parallelismLimit: 1, operators: [], inputs: [], outputs: ["e1"] },
      { id: "work", name: "Work", parallelism, maxParallelism: 128, operators: [], inputs: ["e1"], outputs: [] },
    ],
    edges: [{ id: "e1", source: "src", target: "work", partitioner: "rebalance" }],
  };
}

export class ModelJob implements AutoscaledJob {
  readonly id = "job";
  readonly name = "model";
  status: AutoscaledJob["status"] = "RUNNING";
  graph: JobGraph;
  runningSince: number;
  stopInProgress = false;
  backlog = 0;
  /** Records work read so far: the TaskManagers' counters. */
  private read = 0;
  private lastAt: number;

  constructor(
    private readonly model: Model,
    private readonly clock: ManualClock,
  ) {
    this.graph = graphOf(model.parallelism);
    this.runningSince = clock.now();
    this.lastAt = clock.now();
  }

  get parallelism(): number {
    return this.graph.vertices[1]!.parallelism;
  }

  /** Records per second work can take now: none while a rescale restarts the job. */
  capacity(): number {
    if (this.clock.now() < this.downUntil) return 0;
    return this.model.total ?? this.model.perSubtask! * this.parallelism;
  }

  private downUntil = 0;

  /** The model's state over the last second: what arrived, what work read, its busy fraction. */
  private now = { arriving: 0, read: 0 };

  /** Moves the model to `at`: what arrived and what work took since the last step. */
  step(at: number): void {
    const dt = (at - this.lastAt) / 1000;
    if (dt <= 0) return;
    this.lastAt = at;
    const arriving = this.model.arrival(at / 1000);
    const capacity = this.capacity();
    const read = Math.min(capacity, arriving + this.backlog / dt);
    this.backlog = Math.max(0, this.backlog + (arriving - read) * dt);
    this.read += read * dt;
    this.now = { arriving, read };
  }

  /** What the TaskManagers would report now. */
  sample(at: number): MetricsSample {
    this.step(at);
    const { read } = this.now;
    const capacity = this.capacity();
    const counts = { recordsIn: this.read, recordsOut: this.read, at };
    return {
      at,
      vertices: {
        src: {
          inputRate: read,
          outputRate: read,
          busyTimeMsPerSecond: 50,
          backPressuredTimeMsPerSecond: read >= capacity ? 900 : 0,
          pendingRecords: this.backlog,
          counts,
        },
        work: {
          inputRate: read,
          outputRate: 0,
          busyTimeMsPerSecond: capacity > 0 ? (1000 * read) / capacity : 0,
          backPressuredTimeMsPerSecond: 0,
          counts: { ...counts, recordsOut: 0 },
        },
      },
    };
  }

  /** The arrival rate, capacity and backlog over the last second. */
  get state(): { arriving: number; capacity: number; backlog: number } {
    return { arriving: this.now.arriving, capacity: this.capacity(), backlog: this.backlog };
  }

  rescaleTo(parallelism: number): void {
    this.graph = graphOf(parallelism);
    // A new execution: the counters start over.
    this.read = 0;
    this.downUntil = this.clock.now() + (this.model.rescaleDowntimeMs ?? 0);
    this.runningSince = this.downUntil;
  }
}

export interface Run {
  job: ModelJob;
  autoscaler: JobAutoscaler;
  clock: ManualClock;
  rescales: Array<{ at: number; to: number }>;
  events: (type?: AutoscalerEvent["type"]) => AutoscalerEvent[];
  /** Every second: the arrival rate, the capacity, the parallelism and the backlog. */
  series: Array<{ t: number; arriving: number; capacity: number; parallelism: number; backlog: number }>;
}

/** Replays the model for `minutes`, ticking the autoscaler every second as the Autoscaler's timer does. */
export async function replay(
  model: Model,
  minutes: number,
  options: {
    settings?: Record<string, unknown>;
    /** Slots the job could hold, fixed or at this time (ms). */
    slots?: number | ((at: number) => number);
    failRescales?: number;
    /** Why the provider cannot start TaskManagers at this time (ms), or undefined when it can. */
    providerHold?: (at: number) => string | undefined;
  } = {},
): Promise<Run> {
  const clock = new ManualClock(0);
  const job = new ModelJob(model, clock);
  const rescales: Run["rescales"] = [];
  let failures = options.failRescales ?? 0;
  const realizer: ScalingRealizer = {
    rescale: async (_jobId, parallelisms) => {
      if (failures > 0) {
        failures--;
        throw new RiffleError("NO_RESOURCE_AVAILABLE", "no slot came");
      }
      const to = parallelisms.work!;
      rescales.push({ at: clock.now(), to });
      job.rescaleTo(to);
    },
    obtainableSlots: () => (typeof options.slots === "function" ? options.slots(clock.now()) : (options.slots ?? 100)),
    providerHold: () => options.providerHold?.(clock.now()),
  };
  const autoscaler = new JobAutoscaler("job", settings(options.settings), { clock, logger: silentLogger, realizer });
  const series: Run["series"] = [];
  for (let s = 0; s < minutes * 60; s++) {
    job.step(clock.now());
    series.push({ t: s, ...job.state, parallelism: job.parallelism });
    autoscaler.tick(job);
    // Let a rescale's promise settle before the next second.
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(1000);
  }
  return { job, autoscaler, clock, rescales, events: (type) => autoscaler.history.filter((e) => type === undefined || e.type === type), series };
}

/** A deterministic noise source for the noisy trace (a linear congruential generator). */
export function noise(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}
