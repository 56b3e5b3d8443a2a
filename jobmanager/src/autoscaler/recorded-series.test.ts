import { describe, expect, it } from "vitest";
import { type SeriesFixture, type VertexRow, loadFixture, replayRecorded } from "../testing/recorded-series.js";

/**
 * The JobAutoscaler over metric series recorded on a real cluster (fixtures/, written by
 * bench/dev/record-autoscaler-series.ts from the end-to-end cases of e2e/autoscaler-cases.ts),
 * replayed tick by tick with a manual clock. Each replay must take the decisions the autoscaler
 * took on the cluster, at the same ticks; after a rescale it goes on over what the cluster measured
 * at the new parallelism, so the autoscaler's reaction to its own rescale is replayed too.
 */

/** When the job first ran, in the recording's time. */
function firstRunning(f: SeriesFixture): number {
  return f.ticks.find((t) => t.since !== null)!.since!;
}

/** The ticks at which the autoscaler collected a sample, after `from`. */
function collectedAfter(f: SeriesFixture, from: number): number[] {
  return f.ticks.filter((t) => t.t > from && t.sample).map((t) => t.t);
}

/** A vertex's records in per second between consecutive samples with new counters (one interval's rate, no averaging). */
function intervalRates(f: SeriesFixture, vertex: number): number[] {
  const rows = f.ticks.flatMap((t) => (t.sample ? [t.sample[vertex + 1] as VertexRow] : []));
  const rates: number[] = [];
  for (let i = 1; i < rows.length; i++) {
    const [a, b] = [rows[i - 1]!, rows[i]!];
    if (b[7]! > a[7]!) rates.push(((b[5]! - a[5]!) * 1000) / (b[7]! - a[7]!));
  }
  return rates;
}

/**
 * The replay took the recorded autoscaler's decisions, with the same messages, at the same times (a
 * millisecond or two apart: the real one read the clock again to record some events).
 */
function expectSameHistory(run: Awaited<ReturnType<typeof replayRecorded>>, f: SeriesFixture): void {
  const replayed = run.events();
  expect(replayed.map((e) => ({ type: e.type, message: e.message }))).toEqual(f.history.map((e) => ({ type: e.type, message: e.message })));
  replayed.forEach((e, i) => expect(Math.abs(e.time - f.history[i]!.t)).toBeLessThanOrEqual(5));
}

describe("JobAutoscaler over series recorded on a real cluster", () => {
  it("step up: scales Work up once, after the step, to enough parallelism; stabilizes after its own rescale and decides nothing more", async () => {
    const f = loadFixture("step-up");
    const run = await replayRecorded(f);
    expect(run.diverged).toBeUndefined();
    expectSameHistory(run, f);
    expect(run.rescales).toHaveLength(1);
    const { at, parallelisms } = run.rescales[0]!;
    // Work (v1) alone, for 120/s at 0.7 of ≤ 50/s a subtask.
    expect(Object.keys(parallelisms)).toEqual(["v1"]);
    expect(parallelisms.v1).toBeGreaterThanOrEqual(3);
    expect(parallelisms.v1).toBeLessThanOrEqual(5);
    // Not before the step (25 s into the trace) showed in the window.
    expect(at - firstRunning(f)).toBeGreaterThan(25_000);
    expect(run.events("scaled")[0]!.message).toMatch(new RegExp(`^rescaled Work .* 1 → ${parallelisms.v1} in [\\d.]+ s$`));

    // After its rescale: nothing collected during the stabilization interval, then a full window and evaluations that keep the new parallelism.
    const rescaled = f.outcomes[0]!.t;
    const since = f.ticks.find((t) => t.t >= rescaled)!.since!;
    const collected = collectedAfter(f, rescaled);
    expect(collected[0]! - since).toBeGreaterThanOrEqual(3_000);
    const status = run.autoscaler.status(run.graph);
    expect(status.lastEvaluation! - collected[0]!).toBeGreaterThanOrEqual(10_000);
    expect(status.vertices[1]).toMatchObject({ parallelism: parallelisms.v1, recommendedParallelism: parallelisms.v1 });
  });

  it("step down: scales Work down once, 2 → 1, only after the scale-down delay", async () => {
    const f = loadFixture("step-down");
    const run = await replayRecorded(f);
    expect(run.diverged).toBeUndefined();
    expectSameHistory(run, f);
    expect(run.rescales).toEqual([{ at: expect.any(Number), parallelisms: { v1: 1 } }]);
    // The drop is 25 s into the trace; the window sees it within 10 s, and the delay is 12 s more.
    expect(run.rescales[0]!.at - firstRunning(f)).toBeGreaterThan(25_000 + 12_000);
    expect(run.events("scaled")[0]!.message).toMatch(/^rescaled Work .* 2 → 1 in [\d.]+ s$/);
    expect(run.graph.vertices[1]!.parallelism).toBe(1);
  });

  it("noisy plateau: no rescale, though single samples leave the band both ways", async () => {
    const f = loadFixture("noisy-plateau");
    const run = await replayRecorded(f);
    expect(run.diverged).toBeUndefined();
    expect(run.rescales).toEqual([]);
    expect(run.events()).toEqual([]);
    expect(f.history).toEqual([]);
    const status = run.autoscaler.status(run.graph);
    expect(status.lastEvaluation).not.toBeNull();
    // What the window averages over: the source's rate in single intervals went above Work's true processing rate and below 0.4 of it.
    const tpr = status.vertices[1]!.metrics!.trueProcessingRate!;
    const source = intervalRates(f, 0);
    expect(Math.max(...source)).toBeGreaterThan(tpr);
    expect(Math.min(...source)).toBeLessThan(0.4 * tpr);
  });

  it("noisy plateau with a window of one interval: the same series rescales (the window's averaging is what keeps it)", async () => {
    const f = loadFixture("noisy-plateau");
    const run = await replayRecorded(f, { "job.autoscaler.metrics.window": "1s" });
    expect(run.rescales.length).toBeGreaterThan(0);
    expect(run.diverged?.why).toMatch(/^rescaled .* where the recorded autoscaler did not$/);
  });

  it("a vertex that cannot go faster: one scale-up, found ineffective after it, no further scale-ups", async () => {
    const f = loadFixture("ineffective");
    const run = await replayRecorded(f);
    expect(run.diverged).toBeUndefined();
    expectSameHistory(run, f);
    expect(run.rescales).toHaveLength(1);
    const to = run.rescales[0]!.parallelisms.v1!;
    expect(to).toBeGreaterThanOrEqual(2);
    const ineffective = run.events("ineffective");
    expect(ineffective).toHaveLength(1);
    expect(ineffective[0]!.message).toMatch(new RegExp(`ineffective scaling: the scale-up from 1 to ${to} raised the true processing rate by`));
    expect(ineffective[0]!.time).toBeGreaterThan(run.events("scaled")[0]!.time);
    const status = run.autoscaler.status(run.graph);
    expect(status.vertices[1]).toMatchObject({ parallelism: to, scaleUpBlocked: true });
    // It went on evaluating after finding the scale-up ineffective, and left the job as it was.
    expect(status.lastEvaluation!).toBeGreaterThan(ineffective[0]!.time);
  });
});
