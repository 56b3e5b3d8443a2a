import { loadConfig } from "@riffle/shared";
import { describe, expect, it } from "vitest";
import { type MetricsSample, type VertexTopology, alignToKeyGroups, alignToSplits, decide, evaluate, summarize } from "./algorithm.js";
import { resolveAutoscalerSettings } from "./settings.js";

const settings = (overrides: Record<string, unknown> = {}) =>
  resolveAutoscalerSettings(loadConfig({ env: {}, file: "/dev/null", overrides: { "job.autoscaler.catch-up.duration": "0s", ...overrides } }), {});

/** source (parallelism 1, cannot run wider) ─rebalance─► work ─hash─► keyed (128 key groups). */
const topology = (work: number, keyed = 2): VertexTopology[] => [
  { id: "src", name: "Source", parallelism: 1, maxParallelism: 128, parallelismLimit: 1, inputs: [], outputEdges: 1, keyed: false, forwardPeers: [] },
  {
    id: "work",
    name: "Work",
    parallelism: work,
    maxParallelism: 128,
    parallelismLimit: undefined,
    inputs: ["src"],
    outputEdges: 1,
    keyed: false,
    forwardPeers: [],
  },
  {
    id: "keyed",
    name: "Keyed",
    parallelism: keyed,
    maxParallelism: 128,
    parallelismLimit: undefined,
    inputs: ["work"],
    outputEdges: 0,
    keyed: true,
    forwardPeers: [],
  },
];

/** Samples every 10 s: the source emits `rate(t)` records per second, `pending(t)` not read yet; work and keyed busy as given. */
function series(seconds: number, f: (t: number) => { rate: number; pending?: number; workBusy: number; keyedBusy: number; workOut?: number }): MetricsSample[] {
  const out: MetricsSample[] = [];
  for (let t = 0; t <= seconds; t += 10) {
    const x = f(t);
    out.push({
      at: t * 1000,
      vertices: {
        src: { inputRate: x.rate, outputRate: x.rate, busyTimeMsPerSecond: 100, backPressuredTimeMsPerSecond: 0, pendingRecords: x.pending },
        work: { inputRate: x.rate, outputRate: x.workOut ?? x.rate, busyTimeMsPerSecond: x.workBusy, backPressuredTimeMsPerSecond: 0 },
        keyed: { inputRate: x.workOut ?? x.rate, outputRate: 0, busyTimeMsPerSecond: x.keyedBusy, backPressuredTimeMsPerSecond: 0 },
      },
    });
  }
  return out;
}

describe("autoscaler algorithm", () => {
  it("does not scale up a vertex whose window is below the band when only the newest samples show a rise", () => {
    // Samples every 5 s: Work reads 8/s at 28 % busy (28.6/s possible); the source emits `src(t)`/s, into Work's input buffers.
    const samples = (src: (t: number) => number, work: (t: number) => { rate: number; busy: number }): MetricsSample[] =>
      Array.from({ length: 17 }, (_, i) => i * 5).map((t) => ({
        at: t * 1000,
        vertices: {
          src: { inputRate: src(t), outputRate: src(t), busyTimeMsPerSecond: 10, backPressuredTimeMsPerSecond: 0 },
          work: { inputRate: work(t).rate, outputRate: work(t).rate, busyTimeMsPerSecond: work(t).busy, backPressuredTimeMsPerSecond: 0 },
          keyed: { inputRate: work(t).rate, outputRate: 0, busyTimeMsPerSecond: 10, backPressuredTimeMsPerSecond: 0 },
        },
      }));
    // The rise shows in the last two samples only: the window's average is below the band (a
    // scale-down trigger, at a parallelism that cannot go lower), its newest eighth above the target.
    const rise = samples(
      (t) => (t < 75 ? 8 : 32),
      () => ({ rate: 8, busy: 280 }),
    );
    const e = evaluate(topology(1), summarize(rise), settings());
    expect(e.work!.utilization).toBeLessThan(0.4);
    expect(e.work!.sizingDataRate / 0.7).toBeGreaterThan(e.work!.trueProcessingRate);
    const d = decide(topology(1), e, settings());
    expect(d.work).toMatchObject({ direction: "none", recommended: 1 });
    expect(d.work!.reason).toMatch(/^utilization \d+% is below 40%, but the newest samples show a rise to \d+\/s: keeping 1 until the window shows it$/);
    // Once the window's average is above the band, it scales up, sized for the new load.
    const risen = samples(
      (t) => (t < 40 ? 8 : 60),
      (t) => (t < 40 ? { rate: 8, busy: 280 } : { rate: 28, busy: 1000 }),
    );
    const up = decide(topology(1), evaluate(topology(1), summarize(risen), settings()), settings());
    expect(up.work).toMatchObject({ direction: "up", recommended: 4 });
  });

  it("measures the true processing rate from busy time and carries the target rate downstream by output ratios", () => {
    const samples = series(60, () => ({ rate: 400, workBusy: 500, keyedBusy: 250, workOut: 200 }));
    const e = evaluate(topology(2), summarize(samples), settings());
    expect(e.work!.trueProcessingRate).toBeCloseTo(800);
    expect(e.work!.targetDataRate).toBeCloseTo(400);
    expect(e.work!.utilization).toBeCloseTo(0.5);
    // Work emits one record per two it reads: keyed must take 200/s and can take 200 / 0.25 = 800/s.
    expect(e.keyed!.targetDataRate).toBeCloseTo(200);
    expect(e.keyed!.trueProcessingRate).toBeCloseTo(800);
  });

  it("takes a growing backlog as demand the source could not read (input rate + lag growth)", () => {
    // Work is saturated at 200/s while 500/s arrive: the backlog grows 300/s.
    const samples = series(60, (t) => ({ rate: 200, pending: 300 * t, workBusy: 1000, keyedBusy: 500 }));
    const s = settings();
    const e = evaluate(topology(2), summarize(samples), s);
    expect(e.src!.targetDataRate).toBeCloseTo(500);
    expect(e.work!.trueProcessingRate).toBeCloseTo(200);
    const d = decide(topology(2), e, s);
    // Capacity 500 / 0.7 = 714/s at 100/s per subtask: 8.
    expect(d.work).toMatchObject({ direction: "up", current: 2, recommended: 8 });
    // Keyed: 500/s target, 400/s per 2 subtasks at 0.5 busy → 2 subtasks do 400/s at most; 714 / 400 × 2 = 3.6 → 4, a divisor of 128.
    expect(d.keyed).toMatchObject({ direction: "up", recommended: 4 });
    // The source cannot run wider than 1.
    expect(d.src!.recommended).toBe(1);
  });

  it("adds the rate that works off a backlog within the catch-up duration", () => {
    const samples = series(60, () => ({ rate: 300, pending: 60_000, workBusy: 1000, keyedBusy: 500 }));
    const s = settings({ "job.autoscaler.catch-up.duration": "10m", "job.autoscaler.restart.time": "0s" });
    const e = evaluate(topology(3), summarize(samples), s);
    expect(e.work!.catchUpDataRate).toBeCloseTo(100);
    expect(e.work!.targetCapacity).toBeCloseTo(300 / 0.7 + 100);
    expect(decide(topology(3), e, s).work!.recommended).toBe(6);
  });

  it("keeps a vertex whose utilization is within target ± boundary", () => {
    const s = settings();
    for (const busy of [450, 700, 950]) {
      const e = evaluate(topology(2), summarize(series(60, () => ({ rate: 100, workBusy: busy, keyedBusy: busy }))), s);
      const d = decide(topology(2), e, s);
      expect(d.work!.direction).toBe("none");
      expect(d.work!.reason).toMatch(/within 40%–100%/);
    }
  });

  it("scales down at most by scale-down.max-factor, and not below min-parallelism", () => {
    const idle = series(60, () => ({ rate: 10, workBusy: 10, keyedBusy: 10 }));
    const s = settings();
    const d = decide(topology(10, 8), evaluate(topology(10, 8), summarize(idle), s), s);
    // 10 × (1 − 0.6) = 4.
    expect(d.work).toMatchObject({ direction: "down", recommended: 4 });
    const floor = settings({ "job.autoscaler.vertex.min-parallelism": 6 });
    expect(decide(topology(10, 8), evaluate(topology(10, 8), summarize(idle), floor), floor).work!.recommended).toBe(6);
  });

  it("clamps to max-parallelism and the key groups, and aligns keyed vertices to divisors of the key groups", () => {
    expect(alignToKeyGroups(3, 128, 200)).toBe(4);
    expect(alignToKeyGroups(5, 128, 200)).toBe(8);
    expect(alignToKeyGroups(65, 128, 200)).toBe(65);
    expect(alignToKeyGroups(5, 128, 6)).toBe(5);
    const s = settings({ "job.autoscaler.vertex.max-parallelism": 5 });
    const flood = series(60, (t) => ({ rate: 100, pending: 10_000 * t, workBusy: 1000, keyedBusy: 1000 }));
    const d = decide(topology(1, 1), evaluate(topology(1, 1), summarize(flood), s), s);
    expect(d.work!.recommended).toBe(5);
    expect(d.keyed!.recommended).toBe(5);
  });

  it("aligns a source that reports its splits to a divisor of them, and never runs it wider than them", () => {
    expect(alignToSplits(4, 6, 200)).toBe(6);
    expect(alignToSplits(4, 12, 200)).toBe(4);
    expect(alignToSplits(4, 5, 5)).toBe(5);
    expect(alignToSplits(4, 7, 6)).toBe(4);
    // A source (no limit of its own) saturated and falling behind: a scale-up of at most ×4 (1 → 4).
    const source = (splitCount?: number): VertexTopology[] => [
      {
        id: "src",
        name: "Source",
        parallelism: 1,
        maxParallelism: 128,
        parallelismLimit: undefined,
        inputs: [],
        outputEdges: 0,
        keyed: false,
        forwardPeers: [],
        splitCount,
      },
    ];
    const behind: MetricsSample[] = [];
    for (let t = 0; t <= 60; t += 10) {
      behind.push({
        at: t * 1000,
        vertices: { src: { inputRate: 100, outputRate: 100, busyTimeMsPerSecond: 1000, backPressuredTimeMsPerSecond: 0, pendingRecords: 10_000 * t } },
      });
    }
    const s = settings({ "job.autoscaler.scale-up.max-factor": 3 });
    const recommended = (splitCount?: number) => decide(source(splitCount), evaluate(source(splitCount), summarize(behind), s), s).src!.recommended;
    expect(recommended()).toBe(4); // no split count reported: as before
    expect(recommended(6)).toBe(6); // 4 readers of 6 partitions would read 2, 2, 1, 1: 6 reads them evenly
    expect(recommended(12)).toBe(4);
    expect(recommended(3)).toBe(3); // never more readers than partitions
  });

  it("sizes a step for the newest level, while the window's average decides whether to rescale", () => {
    // 100/s for 25 s, then 300/s: work (100/s per subtask, 2 subtasks) saturates at 200/s and the backlog grows.
    let pending = 0;
    const samples = series(60, (t) => {
      const arriving = t < 25 ? 100 : 300;
      const read = Math.min(arriving, 200);
      if (t >= 25) pending += (arriving - read) * 10;
      return { rate: read, pending, workBusy: (read / 200) * 1000, keyedBusy: 100 };
    });
    const s = settings();
    const e = evaluate(topology(2), summarize(samples), s);
    expect(e.work!.targetDataRate).toBeLessThan(250);
    expect(e.work!.sizingDataRate).toBeCloseTo(300);
    // ceil(2 × (300 / 0.7) / 200) = 5: what 300/s needs, not what the window's average would.
    expect(decide(topology(2), e, s).work).toMatchObject({ direction: "up", recommended: 5 });
  });

  it("refuses a further scale-up when the last one did not raise the true processing rate", () => {
    const s = settings();
    const t = topology(4);
    const e = evaluate(t, summarize(series(60, (x) => ({ rate: 200, pending: 100 * x, workBusy: 1000, keyedBusy: 100 }))), s);
    // The last scale-up took work from 2 to 4, expecting 200/s → 400/s; it still does 200/s.
    const last = { work: { at: 0, from: 2, to: 4, trueProcessingRateBefore: 200, expectedTrueProcessingRate: 400 } };
    const d = decide(t, e, s, last);
    expect(d.work).toMatchObject({ direction: "none", recommended: 4, ineffective: true });
    expect(d.work!.reason).toMatch(/ineffective scaling: the scale-up from 2 to 4 raised the true processing rate by 0\/s of the 200\/s expected/);
    // With the detection off, it scales up again.
    const off = settings({ "job.autoscaler.scaling.effectiveness.detection.enabled": false });
    expect(decide(t, e, off, last).work!.direction).toBe("up");
    // A scale-up that brought most of what was expected does not block the next one.
    const e2 = evaluate(t, summarize(series(60, (x) => ({ rate: 380, pending: 200 * x, workBusy: 1000, keyedBusy: 100 }))), s);
    expect(decide(t, e2, s, last).work!.direction).toBe("up");
  });

  it("gives vertices joined by forward edges the same parallelism", () => {
    const t: VertexTopology[] = [
      { ...topology(2)[0]! },
      { ...topology(2)[1]!, forwardPeers: ["keyed"] },
      { ...topology(2)[2]!, keyed: false, forwardPeers: ["work"] },
    ];
    const s = settings();
    const e = evaluate(t, summarize(series(60, (x) => ({ rate: 200, pending: 100 * x, workBusy: 1000, keyedBusy: 300 }))), s);
    const d = decide(t, e, s);
    expect(d.work!.recommended).toBe(d.keyed!.recommended);
    expect(d.keyed!.reason).toMatch(/forward-connected/);
  });
});
