import { describe, expect, it } from "vitest";
import {
  type AggregateFunction,
  type Collector,
  EventTimeTrigger,
  OutputTag,
  type ProcessWindowContext,
  type SingleOutputStreamOperator,
  SlidingEventTimeWindows,
  type TimeWindow,
  ValueStateDescriptor,
  type WindowedStream,
} from "@riffle/sdk";
import { type LocalRunResult, runLocally } from "../testing/index.js";
import { EVERY_RECORD, type Ev, eventStream, prng, randomEvents, sorted } from "./fixtures.js";

interface Stats {
  n: number;
  sum: number;
  min: number;
  max: number;
}

const stats: AggregateFunction<Ev, Stats, Stats> = {
  createAccumulator: () => ({ n: 0, sum: 0, min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY }),
  add: (e, acc) => {
    acc.n++;
    acc.sum += e.v;
    acc.min = Math.min(acc.min, e.v);
    acc.max = Math.max(acc.max, e.v);
    return acc;
  },
  getResult: (acc) => ({ ...acc }),
  // Reuses its first argument, as Flink allows.
  merge: (a, b) => {
    a.n += b.n;
    a.sum += b.sum;
    a.min = Math.min(a.min, b.min);
    a.max = Math.max(a.max, b.max);
    return a;
  },
};

/** Labels each result with its window, timestamp-independent fire number (per-window state) and value. */
function label<V>(key: string, ctx: ProcessWindowContext<TimeWindow>, results: V[], out: Collector<string>) {
  const fires = ctx.windowState().getState(new ValueStateDescriptor<number>("fires", 0));
  fires.update(fires.value()! + 1);
  out.collect(`${key}[${ctx.window.start},${ctx.window.end}) #${fires.value()} ${JSON.stringify(results[0])}`);
}

interface Case {
  size: number;
  slide: number;
  offset: number;
  lateness: number;
  /** Out-of-orderness the watermark allows, and the actual disorder of the data (larger: late records). */
  bound: number;
  disorder: number;
}

const cases: Case[] = [
  { size: 10_000, slide: 1_000, offset: 0, lateness: 0, bound: 1_000, disorder: 15_000 },
  { size: 6_000, slide: 4_000, offset: 0, lateness: 2_000, bound: 500, disorder: 12_000 },
  { size: 5_000, slide: 5_000, offset: 0, lateness: 1_000, bound: 0, disorder: 8_000 },
  { size: 9_000, slide: 3_000, offset: -1_000, lateness: 3_000, bound: 1_000, disorder: 16_000 },
  { size: 7_000, slide: 3_000, offset: 500, lateness: 0, bound: 200, disorder: 10_000 },
  { size: 4_000, slide: 1_500, offset: 0, lateness: 5_000, bound: 0, disorder: 12_000 },
];

type Build = (w: WindowedStream<Ev, string, TimeWindow>) => SingleOutputStreamOperator<string>;

async function run(events: Ev[], c: Case, perWindow: boolean, fn: Build): Promise<LocalRunResult<string>> {
  const late = new OutputTag<Ev>("late");
  return runLocally((env) => {
    let w = eventStream(env, events, c.bound)
      .keyBy((e) => e.k)
      .window(SlidingEventTimeWindows.of(c.size, c.slide, c.offset))
      .allowedLateness(c.lateness)
      .sideOutputLateData(late);
    // An explicit trigger (even the default one) selects the per-window operator.
    if (perWindow) w = w.trigger(EventTimeTrigger.create());
    const main = fn(w);
    return main.union(main.getSideOutput(late).map((e) => `late ${e.k}@${e.t}=${e.v}`));
  }, EVERY_RECORD);
}

function withTimestamps(r: LocalRunResult<string>): string[] {
  return r.records.map((x, i) => `${x} @${r.timestamps[i]}`);
}

describe("sliding windows by slices equal the per-window operator", () => {
  for (const c of cases) {
    for (const seed of [1, 2, 3]) {
      it(`size ${c.size}, slide ${c.slide}, offset ${c.offset}, lateness ${c.lateness}, disorder ${c.disorder} (seed ${seed})`, async () => {
        const events = randomEvents(prng(seed * 7919 + c.size + c.slide), 400, { keys: 3, step: 250, disorder: c.disorder, start: -20_000 });
        for (const fn of [
          (w: WindowedStream<Ev, string, TimeWindow>) => w.aggregate(stats, label),
          (w: WindowedStream<Ev, string, TimeWindow>) => w.reduce((a, b) => ({ k: a.k, t: Math.max(a.t, b.t), v: a.v + b.v }), label),
        ] as Build[]) {
          const sliced = await run(events, c, false, fn);
          const perWindow = await run(events, c, true, fn);
          expect(sliced.graph.vertices.some((v) => v.name.includes("sliced"))).toBe(true);
          expect(perWindow.graph.vertices.some((v) => v.name.includes("sliced"))).toBe(false);
          expect(sorted(withTimestamps(sliced))).toEqual(sorted(withTimestamps(perWindow)));
          // Per key, windows fire in the same order.
          for (const k of ["k0", "k1", "k2"]) {
            const ofKey = (r: LocalRunResult<string>) => r.records.filter((x) => x.startsWith(`${k}[`));
            expect(ofKey(sliced)).toEqual(ofKey(perWindow));
          }
          if (c.disorder > c.bound) expect(sliced.records.some((x) => x.startsWith("late"))).toBe(true);
          if (c.lateness > 0 && c.disorder > c.bound) expect(sliced.records.some((x) => x.includes(" #2 "))).toBe(true);
        }
      });
    }
  }

  it("an aggregate without merge() falls back to the per-window operator", async () => {
    const { merge: _merge, ...noMerge } = stats;
    const events = randomEvents(prng(11), 200, { keys: 2, disorder: 500 });
    const r = await runLocally(
      (env) =>
        eventStream(env, events, 500)
          .keyBy((e) => e.k)
          .window(SlidingEventTimeWindows.of(3_000, 1_000))
          .aggregate(noMerge, label),
      EVERY_RECORD,
    );
    expect(r.graph.vertices.some((v) => v.name.includes("sliced"))).toBe(false);
    const sliced = await runLocally(
      (env) =>
        eventStream(env, events, 500)
          .keyBy((e) => e.k)
          .window(SlidingEventTimeWindows.of(3_000, 1_000))
          .aggregate(stats, label),
      EVERY_RECORD,
    );
    expect(sorted(sliced.records)).toEqual(sorted(r.records));
  });

  it("slices much narrower than the slide (size 10001, slide 10000: 1 ms) are not used", async () => {
    const r = await runLocally((env) =>
      eventStream(env, randomEvents(prng(13), 50, { keys: 1 }), 0)
        .keyBy((e) => e.k)
        .window(SlidingEventTimeWindows.of(10_001, 10_000))
        .sum("v"),
    );
    expect(r.graph.vertices.some((v) => v.name.includes("sliced"))).toBe(false);
  });

  it("windows with a gap between them (slide > size) use the per-window operator", async () => {
    const events = randomEvents(prng(12), 100, { keys: 1, disorder: 0 });
    const r = await runLocally((env) =>
      eventStream(env, events, 0)
        .keyBy((e) => e.k)
        .window(SlidingEventTimeWindows.of(1_000, 3_000))
        .sum("v"),
    );
    expect(r.graph.vertices.some((v) => v.name.includes("sliced"))).toBe(false);
    const expected = new Map<number, number>();
    for (const e of events) {
      const start = e.t - (e.t % 3_000);
      if (e.t < start + 1_000) expected.set(start, (expected.get(start) ?? 0) + e.v);
    }
    expect(r.records.map((e) => e.v)).toEqual([...expected.values()]);
  });
});
