import { describe, expect, it } from "vitest";
import {
  type AggregateFunction,
  type Collector,
  CountEvictor,
  ProcessingTimeTrigger,
  type ProcessWindowContext,
  type SingleOutputStreamOperator,
  SlidingProcessingTimeWindows,
  type StreamExecutionEnvironment,
  type TimeWindow,
  ValueStateDescriptor,
  type WindowedStream,
} from "@riffle/sdk";
import { type LocalRunResult, runLocally } from "../testing/index.js";
import { type Ev, type Out, bruteForceSums, labelled, prng, sorted, sumValues } from "./fixtures.js";

/**
 * Sliding processing-time windows by slices against the per-window operator and a brute force. The
 * manual clock decides when each record arrives: record i is polled in round i, after which the test
 * moves the clock to record i + 1's arrival time (after the last record, far enough to fire every
 * window). A record's `t` is its arrival time, which the brute force windows by; the job itself never
 * reads it.
 */

const count: AggregateFunction<Ev, { n: number; sum: number }, { n: number; sum: number }> = {
  createAccumulator: () => ({ n: 0, sum: 0 }),
  add: (e, acc) => {
    acc.n++;
    acc.sum += e.v;
    return acc;
  },
  getResult: (acc) => ({ ...acc }),
  merge: (a, b) => {
    a.n += b.n;
    a.sum += b.sum;
    return a;
  },
};

/** Labels a result with its window, how often that window fired (per-window state), and the value. */
function label<V>(key: string, ctx: ProcessWindowContext<TimeWindow>, results: V[], out: Collector<string>) {
  const fires = ctx.windowState().getState(new ValueStateDescriptor<number>("fires", 0));
  fires.update(fires.value()! + 1);
  out.collect(`${key}[${ctx.window.start},${ctx.window.end}) #${fires.value()} ${JSON.stringify(results[0])}`);
}

/**
 * `n` records over 3 keys arriving at multiples of 10 ms from `start`, several often at the same
 * millisecond. Window ends are multiples of 10 too, so the clock never stops at a window's last
 * millisecond (where the per-window operator can fire a window twice: see the test below).
 */
function arrivals(rand: () => number, n: number, start: number): Ev[] {
  const events: Ev[] = [];
  let t = start;
  for (let i = 0; i < n; i++) {
    t += 10 * Math.floor(rand() * 30);
    events.push({ k: `k${Math.floor(rand() * 3)}`, t, v: Math.floor(rand() * 100) - 20 });
  }
  return events;
}

/** Runs `build` over the records, each arriving at its `t`; `tail`: how far past the last arrival the clock moves. */
function runOnClock<R>(
  events: readonly Ev[],
  tail: number,
  build: (env: StreamExecutionEnvironment) => SingleOutputStreamOperator<R>,
): Promise<LocalRunResult<R>> {
  return runLocally(build, {
    pollBatch: 1,
    startTime: events[0]!.t,
    onRound: (clock, round) => clock.advanceTo(round + 1 < events.length ? events[round + 1]!.t : events[events.length - 1]!.t + tail),
  });
}

const isSliced = (r: LocalRunResult<unknown>) => r.graph.vertices.some((v) => v.name.includes("sliced") && v.name.includes("SlidingProcessingTimeWindows"));

/** Each result with its timestamp and the round it came out in. */
const described = (r: LocalRunResult<string>) => r.records.map((x, i) => `${x} @${r.timestamps[i]} round ${r.rounds[i]}`);

interface Case {
  size: number;
  slide: number;
  offset: number;
}

const cases: Case[] = [
  { size: 10_000, slide: 1_000, offset: 0 },
  { size: 6_000, slide: 4_000, offset: 0 },
  { size: 5_000, slide: 5_000, offset: 0 },
  { size: 9_000, slide: 3_000, offset: -1_000 },
  { size: 7_000, slide: 3_000, offset: 500 },
  { size: 4_000, slide: 1_500, offset: 0 },
];

type Build = (w: WindowedStream<Ev, string, TimeWindow>) => SingleOutputStreamOperator<string>;

describe("sliding processing-time windows by slices", () => {
  for (const c of cases) {
    for (const seed of [1, 2]) {
      it(`size ${c.size}, slide ${c.slide}, offset ${c.offset} (seed ${seed}): equal the per-window operator and a brute force`, async () => {
        const events = arrivals(prng(seed * 7919 + c.size + c.slide), 300, -20_000);
        const tail = c.size + c.slide;
        const window = (env: StreamExecutionEnvironment) =>
          env
            .fromElements(...events)
            .keyBy((e) => e.k)
            .window(SlidingProcessingTimeWindows.of(c.size, c.slide, c.offset));

        for (const fn of [(w) => w.aggregate(count, label), (w) => w.reduce(sumValues, label)] as Build[]) {
          const sliced = await runOnClock(events, tail, (env) => fn(window(env)));
          // An explicit trigger (even the default one) selects the per-window operator.
          const perWindow = await runOnClock(events, tail, (env) => fn(window(env).trigger(ProcessingTimeTrigger.create())));
          expect(isSliced(sliced)).toBe(true);
          expect(isSliced(perWindow)).toBe(false);
          // Same windows, values and timestamps, each window fired once, in the same poll round: the
          // sliced operator fires at the window's end, one millisecond after the per-window one, and
          // the clock never stops in between.
          expect(sorted(described(sliced))).toEqual(sorted(described(perWindow)));
          expect(sliced.records.every((x) => x.includes(" #1 "))).toBe(true);
          // Per key, windows fire in the same order.
          for (const k of ["k0", "k1", "k2"]) {
            const ofKey = (r: LocalRunResult<string>) => r.records.filter((x) => x.startsWith(`${k}[`));
            expect(ofKey(sliced)).toEqual(ofKey(perWindow));
          }
        }

        const sums = await runOnClock(events, tail, (env) =>
          window(env)
            .reduce(sumValues, labelled<Ev>())
            .map((o): Out => ({ k: o.k, start: o.start, end: o.end, v: o.v.v })),
        );
        expect(isSliced(sums)).toBe(true);
        const expected = bruteForceSums(events, c.size, c.slide, c.offset);
        expect(expected.length).toBeGreaterThan(20);
        expect(sorted(sums.records)).toEqual(sorted(expected));
      });
    }
  }

  it("a record arriving in a window's last millisecond is in its one result, which fires once the clock reaches its end", async () => {
    // Records arrive at 0 and 500; the clock stops at 999 (the last millisecond of [-1000, 1000)) for
    // the third; the fourth arrives at 1500; then the clock moves on to 5000.
    const times = [0, 500, 999, 1_500];
    const events: Ev[] = times.map((t) => ({ k: "a", t, v: 1 }));
    const run = (perWindow: boolean) =>
      runLocally(
        (env) => {
          const w = env
            .fromElements(...events)
            .keyBy((e) => e.k)
            .window(SlidingProcessingTimeWindows.of(2_000, 1_000));
          return (perWindow ? w.trigger(ProcessingTimeTrigger.create()) : w).reduce(sumValues, label);
        },
        { pollBatch: 1, onRound: (clock, round) => clock.advanceTo(times[round + 1] ?? 5_000) },
      );
    const values = (r: LocalRunResult<string>) => r.records.map((x) => x.replace(/"t":\d+,/, ""));

    const sliced = await run(false);
    expect(isSliced(sliced)).toBe(true);
    expect(values(sliced)).toEqual(['a[-1000,1000) #1 {"k":"a","v":3}', 'a[0,2000) #1 {"k":"a","v":4}', 'a[1000,3000) #1 {"k":"a","v":1}']);
    // [-1000, 1000) fired when the clock moved from 999 to 1500 (round 2), not when it reached 999 (round 1).
    expect(sliced.rounds).toEqual([2, 3, 3]);
    expect(sliced.timestamps).toEqual([999, 1_999, 2_999]);

    // The per-window operator fires [-1000, 1000) when the clock reaches 999, and again with the record
    // that arrived while it still read 999: the difference the sliced operator's doc describes.
    const perWindow = await run(true);
    expect(values(perWindow)).toEqual([
      'a[-1000,1000) #1 {"k":"a","v":2}',
      'a[-1000,1000) #1 {"k":"a","v":1}',
      'a[0,2000) #1 {"k":"a","v":4}',
      'a[1000,3000) #1 {"k":"a","v":1}',
    ]);
    expect(perWindow.rounds).toEqual([1, 2, 3, 3]);
  });

  it("windowAll slices too, at parallelism 1", async () => {
    const events = arrivals(prng(5), 200, 0);
    const r = await runOnClock(events, 3_000, (env) =>
      env
        .fromElements(...events)
        .windowAll(SlidingProcessingTimeWindows.of(3_000, 1_000))
        .reduce(sumValues, (ctx: ProcessWindowContext<TimeWindow>, sums: Ev[], out: Collector<Out>) =>
          out.collect({ k: "all", start: ctx.window.start, end: ctx.window.end, v: sums[0]!.v }),
        ),
    );
    const sliced = r.graph.vertices.find((v) => v.name.includes("sliced"));
    expect(sliced?.name).toMatch(/^AllWindow\(SlidingProcessingTimeWindows/);
    expect(sliced?.parallelism).toBe(1);
    expect(sorted(r.records)).toEqual(
      sorted(
        bruteForceSums(
          events.map((e) => ({ ...e, k: "all" })),
          3_000,
          1_000,
        ),
      ),
    );
  });

  it("a custom trigger, an evictor or an aggregate without merge() keep the per-window operator", async () => {
    const events = arrivals(prng(7), 100, 0);
    const { merge: _merge, ...noMerge } = count;
    const builds: ((w: WindowedStream<Ev, string, TimeWindow>) => SingleOutputStreamOperator<unknown>)[] = [
      (w) => w.trigger(ProcessingTimeTrigger.create()).reduce(sumValues),
      (w) => w.evictor(CountEvictor.of(1_000)).reduce(sumValues),
      (w) => w.aggregate(noMerge),
      // Slices of 1 ms against a slide of 10 s: per window is cheaper.
      (w) => w.reduce(sumValues),
    ];
    for (const [i, build] of builds.entries()) {
      const r = await runOnClock(events, 30_000, (env) =>
        build(
          env
            .fromElements(...events)
            .keyBy((e) => e.k)
            .window(i === 3 ? SlidingProcessingTimeWindows.of(10_001, 10_000) : SlidingProcessingTimeWindows.of(3_000, 1_000)),
        ),
      );
      expect(r.graph.vertices.some((v) => v.name.includes("sliced"))).toBe(false);
      expect(r.records.length).toBeGreaterThan(0);
    }
  });
});
