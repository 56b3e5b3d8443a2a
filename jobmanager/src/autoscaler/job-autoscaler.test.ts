import { ManualClock } from "@riffle/shared";
import { describe, expect, it } from "vitest";
import { ModelJob, noise, replay, settings } from "../testing/job-model.js";
import { silentLogger } from "../testing/fixtures.js";
import { JobAutoscaler, type ScalingRealizer } from "./job-autoscaler.js";

/** The job autoscaler's life over metric series from a queueing model of a job (testing/job-model.ts), replayed with a manual clock. */
const MINUTE = 60_000;

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
      /ineffective scaling: the scale-up from 2 to 6 raised the true processing rate by -?\d+(\.\d+)?\/s of the \d+\/s expected \(below 10%\)/,
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

  it("holds a scale-up while the provider fails, backing off, and rescales once it can start TaskManagers again", async () => {
    // The provider fails for the first 15 minutes: only the 4 slots held and free count meanwhile.
    const failingUntil = 15 * MINUTE;
    const run = await replay({ arrival: (t) => (t < 300 ? 100 : 400), perSubtask: 100, parallelism: 2 }, 30, {
      slots: (at) => (at < failingUntil ? 4 : 100),
      providerHold: (at) => (at < failingUntil ? "PROVIDER_FAILED: cannot reach the Docker daemon" : undefined),
    });
    const held = run.events("skipped");
    expect(held).toHaveLength(1);
    expect(held[0]!.message).toMatch(
      /^scale-up held: provider failing: PROVIDER_FAILED: cannot reach the Docker daemon; not rescaling Work 2 → \d+ .*looks again in 60 s/,
    );
    // Nothing was stopped while the provider failed; the first look after it recovered rescales.
    expect(run.rescales).toHaveLength(1);
    expect(run.rescales[0]!.at).toBeGreaterThanOrEqual(failingUntil);
    expect(run.rescales[0]!.at).toBeLessThan(failingUntil + MINUTE + 15_000);
    expect(run.series.filter((p) => p.t * 1000 < failingUntil).every((p) => p.parallelism === 2)).toBe(true);
  });

  it("a provider that fails backs the autoscaler off rather than retrying every evaluation", async () => {
    const failingUntil = 15 * MINUTE;
    let asked = 0;
    const run = await replay({ arrival: (t) => (t < 300 ? 100 : 400), perSubtask: 100, parallelism: 2 }, 30, {
      slots: (at) => (at < failingUntil ? 4 : 100),
      providerHold: (at) => {
        if (at < failingUntil) asked++;
        return at < failingUntil ? "PROVIDER_FAILED: quota exceeded" : undefined;
      },
    });
    // Once a minute at most while it fails (the failure backoff), not at every evaluation.
    expect(asked).toBeLessThanOrEqual(11);
    expect(asked).toBeGreaterThan(3);
    expect(run.autoscaler.status(run.job.graph).history.filter((e) => e.type === "skipped")).toHaveLength(1);
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
