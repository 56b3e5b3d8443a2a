import { describe, expect, it } from "vitest";
import { testGraph } from "../testing/fixtures.js";
import { createRestartBackoffStrategy, resolveRestartStrategy, type ExponentialBackoffDefaults } from "./restart-strategy.js";

const defaults: ExponentialBackoffDefaults = { initialDelayMs: 1_000, maxDelayMs: 5_000, multiplier: 2, resetAfterMs: 60_000 };

describe("restart strategies", () => {
  it("defaults to exponential backoff with checkpoints and to none without", () => {
    expect(resolveRestartStrategy(testGraph({ checkpointing: { intervalMs: 100 } }), defaults)).toEqual({ type: "exponential-backoff", ...defaults });
    expect(resolveRestartStrategy(testGraph(), defaults)).toEqual({ type: "none" });
    const own = { type: "fixed-delay", attempts: 3, delayMs: 10 } as const;
    expect(resolveRestartStrategy(testGraph({ checkpointing: { intervalMs: 100 }, restartStrategy: own }), defaults)).toBe(own);
  });

  it("refuses values out of range with JOB_INVALID_GRAPH", () => {
    const bad = testGraph({ restartStrategy: { type: "fixed-delay", attempts: -1, delayMs: 10 } });
    expect(() => resolveRestartStrategy(bad, defaults)).toThrow(expect.objectContaining({ code: "JOB_INVALID_GRAPH" }));
    const multiplier = testGraph({ restartStrategy: { type: "exponential-backoff", initialDelayMs: 1, maxDelayMs: 2, multiplier: 0.5, resetAfterMs: 1 } });
    expect(() => resolveRestartStrategy(multiplier, defaults)).toThrow(/multiplier must be at least 1/);
  });

  it("none never restarts and adds no reason", () => {
    expect(createRestartBackoffStrategy({ type: "none" }).onFailure(0)).toEqual({ restart: false, why: null });
  });

  it("fixed-delay restarts `attempts` times with the same delay", () => {
    const s = createRestartBackoffStrategy({ type: "fixed-delay", attempts: 2, delayMs: 300 });
    expect([s.onFailure(0), s.onFailure(1), s.onFailure(2)]).toEqual([
      { restart: true, delayMs: 300 },
      { restart: true, delayMs: 300 },
      { restart: false, why: "the fixed-delay restart strategy allows 2 restarts and all were used" },
    ]);
  });

  it("exponential backoff multiplies the delay up to the max and resets after a failure-free period", () => {
    const s = createRestartBackoffStrategy({ type: "exponential-backoff", ...defaults });
    const delays = [0, 10, 20, 30, 40].map((t) => s.onFailure(t));
    expect(delays.map((d) => (d.restart ? d.delayMs : -1))).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
    expect(s.onFailure(40 + 60_000)).toEqual({ restart: true, delayMs: 1_000 });
  });

  it("failure-rate restarts unless more than maxFailures failures fall within the interval", () => {
    const s = createRestartBackoffStrategy({ type: "failure-rate", maxFailures: 2, intervalMs: 1_000, delayMs: 50 });
    expect(s.onFailure(0)).toEqual({ restart: true, delayMs: 50 });
    expect(s.onFailure(500)).toEqual({ restart: true, delayMs: 50 });
    expect(s.onFailure(999)).toEqual({ restart: false, why: "3 failures within 1000 ms, more than the 2 the failure-rate restart strategy allows" });
    const later = createRestartBackoffStrategy({ type: "failure-rate", maxFailures: 2, intervalMs: 1_000, delayMs: 50 });
    expect([0, 500, 1_000, 1_500].map((t) => later.onFailure(t).restart)).toEqual([true, true, true, true]);
  });
});
