import { loadConfig } from "@riffle/shared";
import { describe, expect, it } from "vitest";
import { type LastScaling, type MetricsSample, type VertexSample, type VertexTopology, decide, evaluate, summarize } from "./algorithm.js";
import { resolveAutoscalerSettings } from "./settings.js";

/**
 * Vertices joined by forward edges keep equal parallelism; the group's parallelism must respect
 * every member's limits (a source's splits or own limit, min/max, key groups, a scale-up found
 * ineffective), and each member's reason must say what happens to it.
 */
const settings = (overrides: Record<string, unknown> = {}) =>
  resolveAutoscalerSettings(loadConfig({ env: {}, file: "/dev/null", overrides: { "job.autoscaler.catch-up.duration": "0s", ...overrides } }), {});

const vertex = (id: string, over: Partial<VertexTopology>): VertexTopology => ({
  id,
  name: id[0]!.toUpperCase() + id.slice(1),
  parallelism: 1,
  maxParallelism: 128,
  parallelismLimit: undefined,
  inputs: [],
  outputEdges: 1,
  keyed: false,
  forwardPeers: [],
  ...over,
});

/** source ─forward─► work at parallelism `p`; `sink` behind work by rebalance when asked. */
function sourceToWork(p: number, source: Partial<VertexTopology> = {}, work: Partial<VertexTopology> = {}): VertexTopology[] {
  return [
    vertex("source", { parallelism: p, forwardPeers: ["work"], ...source }),
    vertex("work", { parallelism: p, inputs: ["source"], outputEdges: 0, forwardPeers: ["source"], ...work }),
  ];
}

/** A minute of samples every 10 s with constant rates (and a backlog growing `lag` per second at the source). */
function steady(vertices: Record<string, Omit<VertexSample, "backPressuredTimeMsPerSecond">>, lag = 0): MetricsSample[] {
  const out: MetricsSample[] = [];
  for (let t = 0; t <= 60; t += 10) {
    out.push({
      at: t * 1000,
      vertices: Object.fromEntries(
        Object.entries(vertices).map(([id, v]) => [id, { ...v, backPressuredTimeMsPerSecond: 0, pendingRecords: id === "source" ? lag * t : undefined }]),
      ),
    });
  }
  return out;
}

/** Source idle-ish, reading 400/s; Work saturated at 400/s while 800/s arrive: Work alone would want 2 × 4 = 8 of 4. */
const saturatedWork = steady(
  {
    source: { inputRate: 400, outputRate: 400, busyTimeMsPerSecond: 200 },
    work: { inputRate: 400, outputRate: 0, busyTimeMsPerSecond: 1000 },
  },
  400,
);

describe("forward-connected vertices", () => {
  it("never run a source wider than its splits: a saturated Work forward-connected to it stays at 4, and says why", () => {
    const s = settings();
    const t = sourceToWork(4, { splitCount: 4 });
    const d = decide(t, evaluate(t, summarize(saturatedWork), s), s);
    expect(d.source).toMatchObject({ current: 4, recommended: 4, direction: "none" });
    expect(d.work).toMatchObject({ current: 4, recommended: 4, direction: "none" });
    expect(d.work!.reason).toMatch(
      /^kept at 4 with Source, forward-connected \(equal parallelism\) \(at most 4, Source: its 4 splits\); on its own: scale up: /,
    );
  });

  it("never run a source limited to 1 wider", () => {
    const s = settings();
    const t = sourceToWork(1, { parallelismLimit: 1 });
    const d = decide(t, evaluate(t, summarize(saturatedWork), s), s);
    expect([d.source!.recommended, d.work!.recommended]).toEqual([1, 1]);
    expect(d.work!.reason).toMatch(/at most 1, Source: it cannot run wider/);
  });

  it("give each member a reason that names the direction it is scaled in", () => {
    const s = settings();
    const t = sourceToWork(4);
    // The source is 10% busy: on its own it would scale down; Work is saturated and needs 8.
    const samples = steady(
      {
        source: { inputRate: 400, outputRate: 400, busyTimeMsPerSecond: 100 },
        work: { inputRate: 400, outputRate: 0, busyTimeMsPerSecond: 1000 },
      },
      160,
    );
    const d = decide(t, evaluate(t, summarize(samples), s), s);
    expect(d.work).toMatchObject({ direction: "up", recommended: 8 });
    expect(d.work!.reason).toMatch(/^scale up: utilization/);
    expect(d.source).toMatchObject({ direction: "up", recommended: 8 });
    expect(d.source!.reason).toMatch(/^scale up to 8 with Work, forward-connected \(equal parallelism\); on its own: scale down: utilization/);
  });

  it("respect max-parallelism and min-parallelism for the whole group", () => {
    const capped = settings({ "job.autoscaler.vertex.max-parallelism": 6 });
    const t = sourceToWork(4);
    const d = decide(t, evaluate(t, summarize(saturatedWork), capped), capped);
    expect([d.source!.recommended, d.work!.recommended]).toEqual([6, 6]);
    // min-parallelism 2 yields to a source that cannot run wider than 1.
    const floor = settings({ "job.autoscaler.vertex.min-parallelism": 2 });
    const one = sourceToWork(1, { parallelismLimit: 1 });
    const idle = steady({
      source: { inputRate: 10, outputRate: 10, busyTimeMsPerSecond: 10 },
      work: { inputRate: 10, outputRate: 0, busyTimeMsPerSecond: 10 },
    });
    const f = decide(one, evaluate(one, summarize(idle), floor), floor);
    expect([f.source!.recommended, f.work!.recommended]).toEqual([1, 1]);
  });

  it("align to a parallelism that suits every member: a divisor of the key groups and of the splits", () => {
    const s = settings({ "job.autoscaler.scale-up.max-factor": 10 });
    // Work keyed over 120 key groups, the source with 12 splits: 8 is no divisor of 12 → 12 (a divisor of both).
    const t = sourceToWork(4, { splitCount: 12, maxParallelism: 120 }, { keyed: true, maxParallelism: 120 });
    const samples = steady(
      {
        source: { inputRate: 400, outputRate: 400, busyTimeMsPerSecond: 200 },
        work: { inputRate: 400, outputRate: 0, busyTimeMsPerSecond: 1000 },
      },
      300,
    );
    const d = decide(t, evaluate(t, summarize(samples), s), s);
    // Work alone: 700/s at 0.7 of 100/s per subtask → 10, a divisor of 120 but not of 12.
    expect([d.source!.recommended, d.work!.recommended]).toEqual([12, 12]);
  });

  it("do not raise a member whose last scale-up was ineffective, and report it as ineffective", () => {
    const s = settings();
    // Keyed, forward-connected to Work, is saturated and wants more; Work's last scale-up (2 → 4) brought nothing.
    const t: VertexTopology[] = [
      vertex("source", { parallelism: 1, parallelismLimit: 1 }),
      vertex("work", { parallelism: 4, inputs: ["source"], forwardPeers: ["keyed"] }),
      vertex("keyed", { parallelism: 4, inputs: ["work"], outputEdges: 0, forwardPeers: ["work"] }),
    ];
    const samples = steady(
      {
        source: { inputRate: 200, outputRate: 200, busyTimeMsPerSecond: 100 },
        work: { inputRate: 200, outputRate: 200, busyTimeMsPerSecond: 700 },
        keyed: { inputRate: 200, outputRate: 0, busyTimeMsPerSecond: 1000 },
      },
      200,
    );
    const last: Record<string, LastScaling> = { work: { at: 0, from: 2, to: 4, trueProcessingRateBefore: 280, expectedTrueProcessingRate: 560 } };
    const d = decide(t, evaluate(t, summarize(samples), s), s, last);
    expect(d.keyed).toMatchObject({ current: 4, recommended: 4, direction: "none" });
    expect(d.keyed!.reason).toMatch(/^kept at 4 with Work, forward-connected \(equal parallelism\) \(at most 4, Work: its last scale-up was ineffective\)/);
    expect(d.work).toMatchObject({ recommended: 4, direction: "none", ineffective: true });
    // Without the block the group goes up.
    const free = decide(t, evaluate(t, summarize(samples), s), s);
    expect(free.work!.recommended).toBeGreaterThan(4);
    expect(free.work!.recommended).toBe(free.keyed!.recommended);
  });
});
