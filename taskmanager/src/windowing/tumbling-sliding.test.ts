import { describe, expect, it } from "vitest";
import {
  type AggregateFunction,
  type Collector,
  type ProcessWindowContext,
  SlidingEventTimeWindows,
  Time,
  type TimeWindow,
  TumblingEventTimeWindows,
  ValueStateDescriptor,
} from "@riffle/sdk";
import { runLocally } from "../testing/index.js";
import { EVERY_RECORD, type Ev, type Out, bruteForceSums, eventStream, labelled, prng, randomEvents, sorted, sumValues } from "./fixtures.js";

const sumAgg: AggregateFunction<Ev, { sum: number; n: number }, number> = {
  createAccumulator: () => ({ sum: 0, n: 0 }),
  add: (e, acc) => {
    acc.sum += e.v;
    acc.n++;
    return acc;
  },
  getResult: (acc) => acc.sum,
  merge: (a, b) => ({ sum: a.sum + b.sum, n: a.n + b.n }),
};

describe("tumbling event-time windows", () => {
  it("sum per key and window equals brute force on out-of-order input within the bound", async () => {
    const events = randomEvents(prng(1), 400, { keys: 4, disorder: 2_000 });
    const r = await runLocally(
      (env) =>
        eventStream(env, events, 2_000)
          .keyBy((e) => e.k)
          .window(TumblingEventTimeWindows.of(Time.seconds(5)))
          .reduce(sumValues, labelled<Ev>()),
      EVERY_RECORD,
    );
    const got = r.records.map((o) => ({ ...o, v: o.v.v }));
    expect(sorted(got)).toEqual(sorted(bruteForceSums(events, 5_000, 5_000)));
    // Results carry the window's max timestamp.
    r.records.forEach((o, i) => expect(r.timestamps[i]).toBe(o.end - 1));
  });

  it("fires each window once, when the watermark passes its end: results come out in window order per key", async () => {
    const events = randomEvents(prng(2), 300, { keys: 2, disorder: 1_000 });
    const r = await runLocally(
      (env) =>
        eventStream(env, events, 1_000)
          .keyBy((e) => e.k)
          .window(TumblingEventTimeWindows.of(2_000))
          .aggregate(sumAgg, labelled<number>()),
      EVERY_RECORD,
    );
    const ids = r.records.map((o) => `${o.k}|${o.start}`);
    expect(new Set(ids).size).toBe(ids.length);
    for (const k of ["k0", "k1"]) {
      const starts = r.records.filter((o) => o.k === k).map((o) => o.start);
      expect(starts).toEqual([...starts].sort((a, b) => a - b));
    }
    // Most windows fire before the end of input (the watermark follows the data).
    const lastRound = Math.max(...r.rounds);
    expect(r.rounds.filter((x) => x < lastRound).length).toBeGreaterThan(r.records.length / 2);
    expect(sorted(r.records)).toEqual(sorted(bruteForceSums(events, 2_000, 2_000)));
  });

  it("offsets shift windows, and negative timestamps fall into the right windows", async () => {
    const events: Ev[] = [-2500, -1000, -1, 0, 999, 1000, 1499, 1500, 2600].map((t, i) => ({ k: "a", t, v: i + 1 }));
    const r = await runLocally((env) =>
      eventStream(env, events, 0)
        .keyBy((e) => e.k)
        .window(TumblingEventTimeWindows.of(1_000, 500))
        .sum("v"),
    );
    expect(r.records.map((e, i) => [r.timestamps[i], e.v])).toEqual([
      [-1501, 1],
      [-501, 2],
      [499, 3 + 4],
      [1499, 5 + 6 + 7],
      [2499, 8],
      [3499, 9],
    ]);
    expect(sorted(r.records.map((e, i) => ({ k: e.k, end: r.timestamps[i]! + 1, v: e.v })))).toEqual(
      sorted(bruteForceSums(events, 1_000, 1_000, 500).map((o) => ({ k: o.k, end: o.end, v: o.v }))),
    );
  });

  it("a window function sees the window, the watermark and per-window and per-key state", async () => {
    const events: Ev[] = [
      { k: "a", t: 100, v: 1 },
      { k: "a", t: 1100, v: 2 },
      { k: "a", t: 1200, v: 3 },
      { k: "b", t: 1300, v: 4 },
      { k: "a", t: 3500, v: 5 },
    ];
    const r = await runLocally((env) =>
      eventStream(env, events, 0)
        .keyBy((e) => e.k)
        .window(TumblingEventTimeWindows.of(1_000))
        .process({
          process(key: string, ctx: ProcessWindowContext<TimeWindow>, elements: Ev[], out: Collector<string>) {
            const windows = ctx.globalState().getState(new ValueStateDescriptor<number>("windows", 0));
            windows.update(windows.value()! + 1);
            out.collect(
              `${key}[${ctx.window.start},${ctx.window.end}) n=${elements.length} wm>=${ctx.currentWatermark() >= ctx.window.end - 1} #${windows.value()}`,
            );
          },
        }),
    );
    expect(r.records).toEqual(["a[0,1000) n=1 wm>=true #1", "a[1000,2000) n=2 wm>=true #2", "b[1000,2000) n=1 wm>=true #1", "a[3000,4000) n=1 wm>=true #3"]);
  });
});

describe("sliding event-time windows", () => {
  for (const [size, slide, offset] of [
    [3_000, 1_000, 0],
    [5_000, 2_000, 0],
    [4_000, 4_000, 0],
    [3_000, 1_000, 400],
  ] as const) {
    it(`size ${size}, slide ${slide}, offset ${offset}: process (per window) and aggregate (slices) both equal brute force`, async () => {
      const events = randomEvents(prng(size + slide + offset), 300, { keys: 3, disorder: 1_500 });
      const expected = sorted(bruteForceSums(events, size, slide, offset));
      const perWindow = await runLocally(
        (env) =>
          eventStream(env, events, 1_500)
            .keyBy((e) => e.k)
            .window(SlidingEventTimeWindows.of(size, slide, offset))
            .process((key: string, ctx: ProcessWindowContext<TimeWindow>, elements: Ev[], out: Collector<Out>) =>
              out.collect({ k: key, start: ctx.window.start, end: ctx.window.end, v: elements.reduce((s, e) => s + e.v, 0) }),
            ),
        EVERY_RECORD,
      );
      expect(sorted(perWindow.records)).toEqual(expected);
      const sliced = await runLocally(
        (env) =>
          eventStream(env, events, 1_500)
            .keyBy((e) => e.k)
            .window(SlidingEventTimeWindows.of(size, slide, offset))
            .aggregate(sumAgg, labelled<number>()),
        EVERY_RECORD,
      );
      expect(sliced.graph.vertices.some((v) => v.name.includes("sliced"))).toBe(true);
      expect(sorted(sliced.records)).toEqual(expected);
      sliced.records.forEach((o, i) => expect(sliced.timestamps[i]).toBe(o.end - 1));
    });
  }

  it("sum, min, max, minBy and maxBy of a field", async () => {
    const events: Ev[] = [
      { k: "a", t: 0, v: 5 },
      { k: "a", t: 500, v: 2 },
      { k: "a", t: 1500, v: 9 },
      { k: "a", t: 2500, v: 2 },
    ];
    const run = (f: "sum" | "min" | "max" | "minBy" | "maxBy") =>
      runLocally((env) => {
        const w = eventStream(env, events, 0)
          .keyBy((e) => e.k)
          .window(SlidingEventTimeWindows.of(2_000, 1_000));
        return f === "sum" ? w.sum("v") : f === "min" ? w.min("v") : f === "max" ? w.max("v") : f === "minBy" ? w.minBy("v") : w.maxBy("v");
      }).then((r) => r.records.map((e, i) => `${r.timestamps[i]}:${e.t}:${e.v}`));
    // Windows [-1000,1000) [0,2000) [1000,3000) [2000,4000).
    expect(await run("sum")).toEqual(["999:0:7", "1999:0:16", "2999:1500:11", "3999:2500:2"]);
    expect(await run("min")).toEqual(["999:0:2", "1999:0:2", "2999:1500:2", "3999:2500:2"]);
    expect(await run("max")).toEqual(["999:0:5", "1999:0:9", "2999:1500:9", "3999:2500:2"]);
    expect(await run("minBy")).toEqual(["999:500:2", "1999:500:2", "2999:2500:2", "3999:2500:2"]);
    expect(await run("maxBy")).toEqual(["999:0:5", "1999:1500:9", "2999:1500:9", "3999:2500:2"]);
  });
});
