import { describe, expect, it } from "vitest";
import {
  type Collector,
  OutputTag,
  type ProcessWindowContext,
  SlidingEventTimeWindows,
  type TimeWindow,
  TumblingEventTimeWindows,
  ValueStateDescriptor,
  type WindowAssigner,
} from "@riffle/sdk";
import { runLocally } from "../testing/index.js";
import { EVERY_RECORD, type Ev, eventStream, sumValues } from "./fixtures.js";

const ev = (t: number, v: number): Ev => ({ k: "a", t, v });

/** Labels each fire of a window with its number: per-window state, kept while the window lives. */
function fireCount(key: string, ctx: ProcessWindowContext<TimeWindow>, sums: Ev[], out: Collector<string>) {
  const fires = ctx.windowState().getState(new ValueStateDescriptor<number>("fires", 0));
  fires.update(fires.value()! + 1);
  out.collect(`${key}[${ctx.window.start},${ctx.window.end}) sum=${sums[0]!.v} fire#${fires.value()}`);
}

// Watermark = largest timestamp - 1 after every record.
const events = [
  ev(1_000, 1),
  ev(5_000, 2),
  ev(12_000, 3), // watermark 11999: [0, 10000) fires with 1 + 2
  ev(3_000, 4), // late, within the allowed lateness (cleanup at 14999): fires [0, 10000) again
  ev(16_000, 5), // watermark 15999: [0, 10000) is dropped
  ev(4_000, 6), // too late
  ev(19_000, 7),
];

describe("allowed lateness and late data", () => {
  const assigners: [string, () => WindowAssigner<unknown, TimeWindow>][] = [
    ["tumbling", () => TumblingEventTimeWindows.of(10_000)],
    ["sliding with slide = size (slices)", () => SlidingEventTimeWindows.of(10_000, 10_000)],
  ];
  for (const [name, assigner] of assigners) {
    it(`${name}: a late element within the lateness fires the window again with the updated result; later ones go to the side output`, async () => {
      const late = new OutputTag<Ev>("late");
      const r = await runLocally((env) => {
        const main = eventStream(env, events, 0)
          .keyBy((e) => e.k)
          .window(assigner())
          .allowedLateness(5_000)
          .sideOutputLateData(late)
          .reduce(sumValues, fireCount);
        return main.union(main.getSideOutput(late).map((e) => `late ${e.t}`));
      }, EVERY_RECORD);
      expect(r.records).toEqual(["a[0,10000) sum=3 fire#1", "a[0,10000) sum=7 fire#2", "late 4000", "a[10000,20000) sum=15 fire#1"]);
      expect(r.timestamps).toEqual([9_999, 9_999, 4_000, 19_999]);
      expect(r.lateRecordsDropped).toBe(0);
    });
  }

  it("without a late-data tag, late elements are dropped", async () => {
    const r = await runLocally(
      (env) =>
        eventStream(env, events, 0)
          .keyBy((e) => e.k)
          .window(TumblingEventTimeWindows.of(10_000))
          .allowedLateness(5_000)
          .reduce(sumValues, fireCount),
      EVERY_RECORD,
    );
    expect(r.records).toEqual(["a[0,10000) sum=3 fire#1", "a[0,10000) sum=7 fire#2", "a[10000,20000) sum=15 fire#1"]);
    // The element at 4000 came after the cleanup of [0, 10000): dropped, and counted.
    expect(r.lateRecordsDropped).toBe(1);
  });

  it("without allowed lateness, an element whose windows all fired is late at once", async () => {
    const late = new OutputTag<Ev>("late");
    const r = await runLocally((env) => {
      const main = eventStream(env, events, 0)
        .keyBy((e) => e.k)
        .window(SlidingEventTimeWindows.of(10_000, 5_000))
        .sideOutputLateData(late)
        .sum("v");
      return main.map((e) => `sum ${e.v}`).union(main.getSideOutput(late).map((e) => `late ${e.t}`));
    }, EVERY_RECORD);
    // Windows [-5000,5000) [0,10000) [5000,15000) [10000,20000) [15000,25000). The element at 3000
    // arrives at watermark 11999: [-5000,5000) and [0,10000) fired already, so it is late.
    expect(r.records).toEqual(["sum 1", "sum 3", "late 3000", "sum 5", "late 4000", "sum 15", "sum 12"]);
  });

  it("with lateness, a late element re-fires every window of it that already fired, newest first", async () => {
    const r = await runLocally(
      (env) =>
        eventStream(env, [ev(1_000, 1), ev(9_000, 2), ev(2_500, 10)], 0)
          .keyBy((e) => e.k)
          .window(SlidingEventTimeWindows.of(3_000, 1_000))
          .allowedLateness(100_000)
          .reduce(sumValues, fireCount),
      EVERY_RECORD,
    );
    expect(r.records).toEqual([
      // watermark 8999
      "a[-1000,2000) sum=1 fire#1",
      "a[0,3000) sum=1 fire#1",
      "a[1000,4000) sum=1 fire#1",
      // the element at 2500: its windows [2000,5000) [1000,4000) [0,3000), newest first
      "a[2000,5000) sum=10 fire#1",
      "a[1000,4000) sum=11 fire#2",
      "a[0,3000) sum=11 fire#2",
      // end of input
      "a[7000,10000) sum=2 fire#1",
      "a[8000,11000) sum=2 fire#1",
      "a[9000,12000) sum=2 fire#1",
    ]);
  });
});
