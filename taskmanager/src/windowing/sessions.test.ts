import { describe, expect, it } from "vitest";
import {
  type AggregateFunction,
  type Collector,
  CountTrigger,
  EventTimeSessionWindows,
  EventTimeTrigger,
  OutputTag,
  type ProcessWindowContext,
  type TimeWindow,
} from "@riffle/sdk";
import { runLocally } from "../testing/index.js";
import { EVERY_RECORD, type Ev, type Out, bruteForceSessions, eventStream, labelled, prng, randomEvents, sorted, sumValues } from "./fixtures.js";

const ev = (k: string, t: number, v = 1): Ev => ({ k, t, v });

const sumAgg: AggregateFunction<Ev, number, number> = {
  createAccumulator: () => 0,
  add: (e, acc) => acc + e.v,
  getResult: (acc) => acc,
  merge: (a, b) => a + b,
};

describe("event-time session windows", () => {
  // Timestamps are multiples of 10 and the gap 15: no session can end exactly where an element
  // starts, a tie whose outcome depends on when the watermark moved.
  const events = randomEvents(prng(7), 500, { keys: 4, step: 8, disorder: 40, grain: 10 });
  const expected = sorted(bruteForceSessions(events, 15));

  it("reduce, aggregate and process over out-of-order input equal brute-force sessions", async () => {
    expect(expected.length).toBeGreaterThan(20);
    const reduced = await runLocally(
      (env) =>
        eventStream(env, events, 40)
          .keyBy((e) => e.k)
          .window(EventTimeSessionWindows.withGap(15))
          .reduce(sumValues, labelled<Ev>()),
      EVERY_RECORD,
    );
    expect(sorted(reduced.records.map((o) => ({ ...o, v: o.v.v })))).toEqual(expected);
    reduced.records.forEach((o, i) => expect(reduced.timestamps[i]).toBe(o.end - 1));

    const aggregated = await runLocally(
      (env) =>
        eventStream(env, events, 40)
          .keyBy((e) => e.k)
          .window(EventTimeSessionWindows.withGap(15))
          .aggregate(sumAgg, labelled<number>()),
      EVERY_RECORD,
    );
    expect(sorted(aggregated.records)).toEqual(expected);

    const processed = await runLocally(
      (env) =>
        eventStream(env, events, 40)
          .keyBy((e) => e.k)
          .window(EventTimeSessionWindows.withGap(15))
          .process((k: string, ctx: ProcessWindowContext<TimeWindow>, els: Ev[], out: Collector<Out & { n: number }>) =>
            out.collect({ k, start: ctx.window.start, end: ctx.window.end, v: els.reduce((s, e) => s + e.v, 0), n: els.length }),
          ),
      EVERY_RECORD,
    );
    expect(sorted(processed.records.map(({ n: _n, ...o }) => o))).toEqual(expected);
    expect(processed.records.reduce((s, o) => s + o.n, 0)).toBe(events.length);
  });

  it("a session grows while elements keep coming and fires once the watermark passes its end", async () => {
    const r = await runLocally(
      (env) =>
        eventStream(env, [ev("a", 0), ev("a", 5), ev("b", 7), ev("a", 12), ev("a", 40), ev("a", 45)], 0)
          .keyBy((e) => e.k)
          .window(EventTimeSessionWindows.withGap(10))
          .reduce(sumValues, labelled<Ev>()),
      EVERY_RECORD,
    );
    expect(r.records.map((o, i) => `${o.k}[${o.start},${o.end}):${o.v.v}@${r.rounds[i]}`)).toEqual([
      // watermark 39 (after the element at 40, round 4) passes both ends, in timer order
      "b[7,17):1@4",
      "a[0,22):3@4",
      // end of input
      "a[40,55):2@5",
    ]);
  });

  it("a late element within the allowed lateness bridges two sessions into one", async () => {
    const late = new OutputTag<Ev>("late");
    const r = await runLocally((env) => {
      const main = eventStream(env, [ev("a", 0), ev("a", 5), ev("a", 20), ev("a", 40), ev("a", 12), ev("a", 100), ev("a", 13)], 0)
        .keyBy((e) => e.k)
        .window(EventTimeSessionWindows.withGap(10))
        .allowedLateness(30)
        .sideOutputLateData(late)
        .process((_k: string, ctx: ProcessWindowContext<TimeWindow>, els: Ev[], out: Collector<string>) =>
          out.collect(
            `[${ctx.window.start},${ctx.window.end}) ${els
              .map((e) => e.t)
              .sort((a, b) => a - b)
              .join(",")}`,
          ),
        );
      return main.union(main.getSideOutput(late).map((e) => `late ${e.t}`));
    }, EVERY_RECORD);
    expect(r.records).toEqual([
      "[0,15) 0,5", // watermark 19 (element 20)
      "[20,30) 20", // watermark 39 (element 40); [0,15) is kept until 14 + 30
      "[0,30) 0,5,12,20", // 12 merges [0,15), [12,22) and [20,30), whose end is behind the watermark: fires at once
      "[40,50) 40", // watermark 99; [0,30) is dropped at 29 + 30
      "late 13",
      "[100,110) 100",
    ]);
  });

  it("count triggers merge their counts when sessions merge", async () => {
    const merged = await runLocally(
      (env) =>
        eventStream(env, [ev("a", 0), ev("a", 25), ev("a", 8), ev("a", 16)], 0)
          .keyBy((e) => e.k)
          .window(EventTimeSessionWindows.withGap(10))
          .trigger(CountTrigger.of(3))
          .process((_k: string, ctx: ProcessWindowContext<TimeWindow>, els: Ev[], out: Collector<string>) =>
            out.collect(
              `[${ctx.window.start},${ctx.window.end}) ${els
                .map((e) => e.t)
                .sort((a, b) => a - b)
                .join(",")}`,
            ),
          ),
      { pollBatch: 1, clockStepPerPoll: 200, autoWatermarkIntervalMs: 0 },
    );
    // [0,10) + [8,18): count 2; [25,35): count 1; 16 opens [16,26), which merges all three: 2 + 1 + 1.
    expect(merged.records).toEqual(["[0,35) 0,8,16,25"]);
  });

  it("dynamic gaps come from the element", async () => {
    const r = await runLocally((env) =>
      eventStream(env, [ev("a", 0, 50), ev("a", 40, 5), ev("a", 48, 5), ev("a", 60, 5)], 0)
        .keyBy((e) => e.k)
        .window(EventTimeSessionWindows.withDynamicGap((e: Ev) => e.v))
        .process((_k: string, ctx: ProcessWindowContext<TimeWindow>, els: Ev[], out: Collector<string>) =>
          out.collect(`[${ctx.window.start},${ctx.window.end}) ${els.length}`),
        ),
    );
    expect(r.records).toEqual(["[0,53) 3", "[60,65) 1"]);
  });

  it("aggregate over sessions needs merge(), and per-window state is refused", async () => {
    await expect(
      runLocally((env) =>
        eventStream(env, [ev("a", 0)], 0)
          .keyBy((e) => e.k)
          .window(EventTimeSessionWindows.withGap(10))
          .aggregate({ createAccumulator: () => 0, add: (e: Ev, a: number) => a + e.v, getResult: (a: number) => a }),
      ),
    ).rejects.toThrow(/merge\(\)/);
    await expect(
      runLocally((env) =>
        eventStream(env, [ev("a", 0)], 0)
          .keyBy((e) => e.k)
          .window(EventTimeSessionWindows.withGap(10))
          .process((_k: string, ctx: ProcessWindowContext<TimeWindow>, _els: Ev[], out: Collector<number>) => {
            ctx.windowState();
            out.collect(1);
          }),
      ),
    ).rejects.toThrow(/per-window state/);
    expect(() => EventTimeSessionWindows.withGap(0)).toThrow(/> 0/);
    const custom = { onElement: () => "CONTINUE", onEventTime: () => "CONTINUE", onProcessingTime: () => "CONTINUE", clear() {} } as never;
    await expect(
      runLocally((env) =>
        eventStream(env, [], 0)
          .keyBy((e) => e.k)
          .window(EventTimeSessionWindows.withGap(10))
          .trigger(custom)
          .sum("v"),
      ),
    ).rejects.toThrow(/merging/);
    // The event-time trigger merges.
    await runLocally((env) =>
      eventStream(env, [], 0)
        .keyBy((e) => e.k)
        .window(EventTimeSessionWindows.withGap(10))
        .trigger(EventTimeTrigger.create())
        .sum("v"),
    );
  });
});
