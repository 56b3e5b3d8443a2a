import type { RiffleError } from "@riffle/shared";
import { describe, expect, it } from "vitest";
import { AggregatingStateDescriptor, ListStateDescriptor, MapStateDescriptor, ReducingStateDescriptor, ValueStateDescriptor } from "./descriptors.js";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as RiffleError).code;
  }
  return undefined;
}

describe("state descriptors", () => {
  it("carry their name, kind and default", () => {
    const v = new ValueStateDescriptor<number>("count", 0);
    expect([v.name, v.kind, v.defaultValue, v.ttl]).toEqual(["count", "value", 0, undefined]);
    expect(new ListStateDescriptor<string>("l").kind).toBe("list");
    expect(new MapStateDescriptor<string, number>("m").kind).toBe("map");
  });

  it("take reduce functions as functions or objects", () => {
    const sum = new ReducingStateDescriptor<number>("sum", (a, b) => a + b);
    expect(sum.reduceFn(1, 2)).toBe(3);
    const max = new ReducingStateDescriptor<number>("max", {
      best: Math.max,
      reduce(a: number, b: number) {
        return this.best(a, b);
      },
    });
    expect(max.reduceFn(1, 2)).toBe(2);
    expect(codeOf(() => new ReducingStateDescriptor<number>("bad", {} as never))).toBe("STATE_INVALID_ARGUMENT");
  });

  it("check aggregate functions", () => {
    const ok = new AggregatingStateDescriptor<number, number, number>("n", { createAccumulator: () => 0, add: (_v, a) => a + 1, getResult: (a) => a });
    expect(ok.kind).toBe("aggregating");
    expect(codeOf(() => new AggregatingStateDescriptor("bad", { createAccumulator: () => 0, add: (_v: number, a: number) => a } as never))).toBe(
      "STATE_INVALID_ARGUMENT",
    );
  });

  it("refuse empty names", () => {
    expect(codeOf(() => new ValueStateDescriptor(""))).toBe("STATE_INVALID_ARGUMENT");
  });

  it("enable a validated time-to-live", () => {
    const d = new ValueStateDescriptor<number>("v").enableTimeToLive({ ttlMs: 1000 });
    expect(d.ttl).toEqual({ ttlMs: 1000, updateType: "OnCreateAndWrite" });
    expect(new ListStateDescriptor("l").enableTimeToLive({ ttlMs: 5, updateType: "OnReadAndWrite" }).ttl).toEqual({ ttlMs: 5, updateType: "OnReadAndWrite" });
    for (const bad of [{ ttlMs: 0 }, { ttlMs: -1 }, { ttlMs: Number.NaN }, { ttlMs: Number.POSITIVE_INFINITY }, { ttlMs: 10, updateType: "OnRead" }]) {
      expect(codeOf(() => new ValueStateDescriptor("v").enableTimeToLive(bad as never))).toBe("STATE_INVALID_ARGUMENT");
    }
  });
});
