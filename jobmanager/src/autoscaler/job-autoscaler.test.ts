import { type JobGraph, ManualClock, RiffleError, loadConfig } from "@riffle/shared";
import { describe, expect, it } from "vitest";
import type { MetricsSample } from "./algorithm.js";
import { type AutoscaledJob, type AutoscalerEvent, JobAutoscaler, type ScalingRealizer } from "./job-autoscaler.js";
import { silentLogger } from "../testing/fixtures.js";
import { resolveAutoscalerSettings } from "./settings.js";

/**
 * The job autoscaler's life over metric series replayed with a manual clock. The series come from a
 * queueing model of a two-vertex job, source (parallelism 1) ─rebalance─► work: `arrival(t)` records
 * per second arrive at the source; work processes `perSubtask` records per second per subtask (or
 * `total` in all, whatever its parallelism: a vertex that cannot go faster); what work cannot take
 * waits in the source's backlog. Each sample carries what the TaskManagers would report for that
 * moment: the rates, the busiest subtask's busy time and the backlog.
 */
interface Model {
  arrival: (tSeconds: number) => number;
  perSubtask?: number;
  total?: number;
  parallelism: number;
}

const MINUTE = 60_000;

function settings(overrides: Record<string, unknown> = {}) {
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

class ModelJob implements AutoscaledJob {
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

  capacity(): number {
    return this.model.total ?? this.model.perSubtask! * this.parallelism;
  }

  /** Moves the model to `at`: what arrived and what work took since the last sample. */
  sample(at: number): MetricsSample {
    const dt = (at - this.lastAt) / 1000;
    this.lastAt = at;
    const arriving = this.model.arrival(at / 1000);
    const capacity = this.capacity();
    const read = dt > 0 ? Math.min(capacity, arriving + this.backlog / dt) : Math.min(capacity, arriving);
    this.backlog = Math.max(0, this.backlog + (arriving - read) * dt);
    this.read += read * dt;
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
          busyTimeMsPerSecond: (1000 * read) / capacity,
          backPressuredTimeMsPerSecond: 0,
          counts: { ...counts, recordsOut: 0 },
        },
      },
    };
  }

  rescaleTo(parallelism: number): void {
    this.graph = graphOf(parallelism);
    // A new execution: the counters start over.
    this.read = 0;
    this.runningSince = this.clock.now();
  }
}

interface Run {
  job: ModelJob;
  autoscaler: JobAutoscaler;
  clock: ManualClock;
  rescales: Array<{ at: number; to: number }>;
  events: (type?: AutoscalerEvent["type"]) => AutoscalerEvent[];
}

/** Replays the model for `minutes`, ticking the autoscaler every second as the Autoscaler's timer does. */
async function replay(
  model: Model,
  minutes: number,
  options: { settings?: Record<string, unknown>; slots?: number; failRescales?: number } = {},
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
    obtainableSlots: () => options.slots ?? 100,
  };
  const autoscaler = new JobAutoscaler("job", settings(options.settings), { clock, logger: silentLogger, realizer });
  for (let s = 0; s < minutes * 60; s++) {
    autoscaler.tick(job);
    // Let a rescale's promise settle before the next second.
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(1000);
  }
  return { job, autoscaler, clock, rescales, events: (type) => autoscaler.history.filter((e) => type === undefined || e.type === type) };
}

/** A deterministic noise source for the noisy trace (a linear congruential generator). */
function noise(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

describe("JobAutoscaler over replayed series", () => {
  it("step up: scales up once, to enough parallelism, and the backlog clears", async () => {
    const run = await replay({ arrival: (t) => (t < 600 ? 100 : 400), perSubtask: 100, parallelism: 2 }, 40);
    expect(run.rescales).toHaveLength(1);
    // 400/s at a target utilization of 0.7 needs 571/s: 6 subtasks of 100/s.
    expect(run.rescales[0]!.to).toBe(6);
    // Decided after the step showed in the window, and within the window's length of it.
    expect(run.rescales[0]!.at).toBeGreaterThan(10 * MINUTE);
    expect(run.rescales[0]!.at).toBeLessThan(13 * MINUTE);
    expect(run.job.backlog).toBe(0);
    expect(run.events("scaled")[0]!.message).toMatch(/rescaled Work 2 → 6/);
    expect(run.autoscaler.stateName).toBe("monitoring");
    expect(run.autoscaler.status(run.job.graph).vertices[1]).toMatchObject({ parallelism: 6, recommendedParallelism: 6 });
  });

  it("step down: scales down once, only after the scale-down delay", async () => {
    const run = await replay({ arrival: (t) => (t < 600 ? 400 : 150), perSubtask: 100, parallelism: 6 }, 60);
    expect(run.rescales).toHaveLength(1);
    // 150/s needs 214/s: 3 subtasks (6 × (1 − 0.6) = 2.4 would allow fewer, the rate does not).
    expect(run.rescales[0]!.to).toBe(3);
    // The window sees the drop by 12 min; the scale-down waits 10 min more.
    expect(run.rescales[0]!.at).toBeGreaterThanOrEqual(20 * MINUTE);
    expect(run.rescales[0]!.at).toBeLessThan(24 * MINUTE);
  });

  it("noisy plateau: no rescale", async () => {
    const rnd = noise(42);
    let level = 300;
    // ±20% around 300/s, a new value every 5 s.
    const run = await replay(
      {
        arrival: (t) => {
          if (t % 5 === 0) level = 300 * (0.8 + 0.4 * rnd());
          return level;
        },
        perSubtask: 100,
        parallelism: 4,
      },
      120,
    );
    expect(run.rescales).toEqual([]);
    expect(run.events()).toEqual([]);
  });

  it("a vertex that cannot go faster: one scale-up, detected as ineffective, no further scale-ups", async () => {
    const run = await replay({ arrival: (t) => (t < 300 ? 100 : 400), total: 200, parallelism: 2 }, 60);
    expect(run.rescales).toEqual([{ at: expect.any(Number), to: 6 }]);
    const ineffective = run.events("ineffective");
    expect(ineffective).toHaveLength(1);
    expect(ineffective[0]!.message).toMatch(
      /ineffective scaling: the scale-up from 2 to 6 raised the true processing rate by -?\d+(\.\d+)?\/s of the 4\d\d\/s expected/,
    );
    expect(run.autoscaler.status(run.job.graph).vertices[1]!.scaleUpBlocked).toBe(true);
    // Not scaled down either: its utilization is above target.
    expect(run.job.parallelism).toBe(6);
  });

  it("dry run: recommends once, and never rescales", async () => {
    const run = await replay({ arrival: (t) => (t < 300 ? 100 : 400), perSubtask: 100, parallelism: 2 }, 30, {
      settings: { "job.autoscaler.scaling.enabled": false },
    });
    expect(run.rescales).toEqual([]);
    expect(run.events().map((e) => e.type)).toEqual(["recommended"]);
    expect(run.events()[0]!.message).toMatch(/dry run: would rescale Work 2 → \d/);
    expect(run.autoscaler.status(run.job.graph)).toMatchObject({ mode: "dry-run", state: "monitoring" });
  });

  it("a failed rescale backs off, doubling, and the job keeps its parallelism meanwhile", async () => {
    const run = await replay({ arrival: (t) => (t < 300 ? 100 : 400), perSubtask: 100, parallelism: 2 }, 30, { failRescales: 2 });
    const failed = run.events("failed");
    expect(failed).toHaveLength(2);
    expect(failed[0]!.message).toMatch(/NO_RESOURCE_AVAILABLE: no slot came\); the job keeps its parallelism, and the autoscaler tries again in 60 s/);
    expect(failed[1]!.message).toMatch(/tries again in 120 s/);
    // The job did not change: the window collected before still holds, and it tries again right after the backoff.
    expect(failed[1]!.time - failed[0]!.time).toBeGreaterThanOrEqual(MINUTE);
    expect(run.rescales).toHaveLength(1);
    expect(run.rescales[0]!.at - failed[1]!.time).toBeGreaterThanOrEqual(2 * MINUTE);
    expect(run.rescales[0]!.at - failed[1]!.time).toBeLessThan(2 * MINUTE + 15_000);
    expect(run.autoscaler.counts).toEqual({ rescales: 1, failures: 2, skipped: 0 });
  });

  it("skips a decision the cluster has no slots for, once, and keeps the parallelism", async () => {
    const run = await replay({ arrival: (t) => (t < 300 ? 100 : 400), perSubtask: 100, parallelism: 2 }, 30, { slots: 4 });
    expect(run.rescales).toEqual([]);
    const skipped = run.events("skipped");
    expect(skipped).toHaveLength(1);
    expect(skipped[0]!.message).toMatch(/needs 6 slots and the cluster can offer 4/);
  });

  it("caps the rescales per hour", async () => {
    // Three steps up 12 minutes apart (2 → 4 → 8 → 15 subtasks), and at most two rescales an hour.
    const run = await replay({ arrival: (t) => (t < 300 ? 100 : t < 1020 ? 250 : t < 1740 ? 500 : 1000), perSubtask: 100, parallelism: 2 }, 45, {
      settings: { "job.autoscaler.scaling.max-per-hour": 2 },
    });
    // 250/s needs 4 subtasks; 500/s needs 7 or 8 (≈ 714/s over measured rates of about 100/s each).
    expect(run.rescales.map((r) => r.to)).toEqual([4, expect.any(Number)]);
    expect(run.rescales[1]!.to).toBeGreaterThanOrEqual(7);
    expect(run.events("skipped")[0]!.message).toMatch(/2 rescales in the last hour reached job.autoscaler.scaling.max-per-hour/);
  });

  it("starts over when the job is rescaled by someone else, and waits while it is not running", async () => {
    const clock = new ManualClock(0);
    const job = new ModelJob({ arrival: () => 100, perSubtask: 100, parallelism: 2 }, clock);
    const realizer: ScalingRealizer = { rescale: async () => {}, obtainableSlots: () => 100 };
    const autoscaler = new JobAutoscaler("job", settings(), { clock, logger: silentLogger, realizer });
    const tickFor = (seconds: number) => {
      for (let s = 0; s < seconds; s++) {
        autoscaler.tick(job);
        clock.advance(1000);
      }
    };
    tickFor(10);
    expect(autoscaler.stateName).toBe("stabilizing");
    tickFor(60);
    expect(autoscaler.stateName).toBe("collecting");
    tickFor(120);
    expect(autoscaler.stateName).toBe("monitoring");
    job.rescaleTo(3);
    tickFor(1);
    expect(autoscaler.stateName).toBe("stabilizing");
    expect(autoscaler.status(job.graph).metricsWindow.samples).toBe(0);
    job.status = "RESTARTING";
    tickFor(1);
    expect(autoscaler.status(job.graph)).toMatchObject({ state: "waiting", reason: "the job is RESTARTING" });
  });
});
