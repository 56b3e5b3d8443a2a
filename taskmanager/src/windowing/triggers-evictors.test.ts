import { describe, expect, it } from "vitest";
import {
  type Collector,
  ContinuousEventTimeTrigger,
  CountEvictor,
  CountTrigger,
  GlobalWindow,
  GlobalWindows,
  type ProcessWindowContext,
  PurgingTrigger,
  ReducingStateDescriptor,
  TimeEvictor,
  type TimeWindow,
  Trigger,
  type TriggerContext,
  TriggerResult,
  TumblingEventTimeWindows,
  DeltaEvictor,
} from "@riffle/sdk";
import { runLocally } from "../testing/index.js";
import { EVERY_RECORD, type Ev, eventStream } from "./fixtures.js";

const ev = (k: string, t: number, v = t): Ev => ({ k, t, v });
const values = (_k: string, _ctx: unknown, els: Ev[], out: Collector<string>) => out.collect(els.map((e) => e.v).join(","));
const windowed = (_k: string, ctx: ProcessWindowContext<TimeWindow>, els: Ev[], out: Collector<string>) =>
  out.collect(`[${ctx.window.start},${ctx.window.end}) ${els.map((e) => e.v).join(",")}`);

describe("count windows and count triggers", () => {
  const events = [ev("a", 1), ev("b", 2), ev("a", 3), ev("a", 4), ev("b", 5), ev("a", 6), ev("b", 7), ev("a", 8), ev("a", 9)];

  it("countWindow(n): every n elements of a key, purged after each fire", async () => {
    const r = await runLocally((env) =>
      eventStream(env, events, 0)
        .keyBy((e) => e.k)
        .countWindow(3)
        .process(values),
    );
    expect(r.records).toEqual(["1,3,4", "2,5,7", "6,8,9"]);
  });

  it("countWindow(n, slide): the last n elements, every slide elements", async () => {
    const r = await runLocally((env) =>
      eventStream(env, events, 0)
        .keyBy((e) => e.k)
        .countWindow(3, 2)
        .sum("v"),
    );
    // a: 1,3 → 4; 1,3,4,6 → last 3: 3,4,6 → 13; then 4,6,8,9 → 6,8,9 → 23. b: 2,5 → 7.
    expect(r.records.map((e) => `${e.k}:${e.v}`)).toEqual(["a:4", "b:7", "a:13", "a:23"]);
    // Global windows never end: results carry the end of time.
    expect(new Set(r.timestamps)).toEqual(new Set([GlobalWindow.get().maxTimestamp()]));
  });

  it("a count trigger on tumbling windows fires early; the event-time end does not fire again by itself", async () => {
    const r = await runLocally(
      (env) =>
        eventStream(env, [ev("a", 100), ev("a", 200), ev("a", 300), ev("a", 400), ev("a", 1500)], 0)
          .keyBy((e) => e.k)
          .window(TumblingEventTimeWindows.of(1_000))
          .trigger(CountTrigger.of(2))
          .process(windowed),
      EVERY_RECORD,
    );
    expect(r.records).toEqual(["[0,1000) 100,200", "[0,1000) 100,200,300,400"]);
  });

  it("a purging count trigger evaluates only the elements since the last fire", async () => {
    const r = await runLocally(
      (env) =>
        eventStream(env, [ev("a", 100), ev("a", 200), ev("a", 300), ev("a", 400), ev("a", 500)], 0)
          .keyBy((e) => e.k)
          .window(TumblingEventTimeWindows.of(1_000))
          .trigger(PurgingTrigger.of(CountTrigger.of(2)))
          .process(windowed),
      EVERY_RECORD,
    );
    expect(r.records).toEqual(["[0,1000) 100,200", "[0,1000) 300,400"]);
  });
});

describe("continuous triggers", () => {
  const events = [ev("a", 100), ev("a", 1200), ev("a", 2300), ev("a", 4100), ev("a", 5000), ev("a", 12_000)];

  it("fires every interval of event time while the window is open, and at its end", async () => {
    const r = await runLocally(
      (env) =>
        eventStream(env, events, 0)
          .keyBy((e) => e.k)
          .window(TumblingEventTimeWindows.of(10_000))
          .trigger(ContinuousEventTimeTrigger.of(2_000))
          .process(windowed),
      EVERY_RECORD,
    );
    // A fire evaluates everything the window holds, also what arrived after the fire time.
    const all = "[0,10000) 100,1200,2300,4100,5000";
    expect(r.records).toEqual([
      "[0,10000) 100,1200,2300", // at 2000 (watermark 2299)
      "[0,10000) 100,1200,2300,4100", // at 4000 (watermark 4099)
      all, // at 6000, 8000 and the end 9999 (watermark 11999)
      all,
      all,
      // the end of input fires the next window at 14000, 16000, 18000 and its end
      ...Array(4).fill("[10000,20000) 12000"),
    ]);
    expect(r.timestamps.slice(0, 5)).toEqual([9_999, 9_999, 9_999, 9_999, 9_999]);
  });

  it("purging: each fire sees what arrived since the last one", async () => {
    const r = await runLocally(
      (env) =>
        eventStream(env, events, 0)
          .keyBy((e) => e.k)
          .window(TumblingEventTimeWindows.of(10_000))
          .trigger(PurgingTrigger.of(ContinuousEventTimeTrigger.of(2_000)))
          .process(windowed),
      EVERY_RECORD,
    );
    // Fires of an emptied window emit nothing.
    expect(r.records).toEqual(["[0,10000) 100,1200,2300", "[0,10000) 4100", "[0,10000) 5000", "[10000,20000) 12000"]);
  });
});

describe("evictors", () => {
  it("a time evictor keeps the elements within its size of the newest", async () => {
    const r = await runLocally((env) =>
      eventStream(env, [ev("a", 100), ev("a", 900), ev("a", 1_000), ev("a", 1_850), ev("a", 2_100), ev("a", 2_200)], 0)
        .keyBy((e) => e.k)
        .window(GlobalWindows.create())
        .trigger(CountTrigger.of(3))
        .evictor(TimeEvictor.of(1_000))
        .process(values),
    );
    // Fire 1 (100,900,1000): cutoff 0 keeps all. Fire 2 (+1850,2100,2200): cutoff 1200 → 1850,2100,2200.
    expect(r.records).toEqual(["100,900,1000", "1850,2100,2200"]);
  });

  it("a count evictor after the function trims what stays for the next fire", async () => {
    const r = await runLocally((env) =>
      eventStream(
        env,
        [1, 2, 3, 4, 5, 6].map((t) => ev("a", t)),
        0,
      )
        .keyBy((e) => e.k)
        .window(GlobalWindows.create())
        .trigger(CountTrigger.of(2))
        .evictor(CountEvictor.of(1, true))
        .process(values),
    );
    expect(r.records).toEqual(["1,2", "2,3,4", "4,5,6"]);
  });

  it("with an evictor, reduce and aggregate see what the evictor left", async () => {
    const r = await runLocally((env) =>
      eventStream(
        env,
        [1, 2, 3, 4, 5, 6].map((t) => ev("a", t)),
        0,
      )
        .keyBy((e) => e.k)
        .window(TumblingEventTimeWindows.of(100))
        .evictor(CountEvictor.of(2))
        .aggregate({ createAccumulator: () => 0, add: (e: Ev, a: number) => a + e.v, getResult: (a: number) => a }),
    );
    expect(r.records).toEqual([11]);
  });

  it("a delta evictor drops elements too far from the newest", async () => {
    const r = await runLocally((env) =>
      eventStream(env, [ev("a", 1, 10), ev("a", 2, 50), ev("a", 3, 48), ev("a", 4, 55)], 0)
        .keyBy((e) => e.k)
        .countWindow(4)
        .evictor(DeltaEvictor.of(10, (a: Ev, b: Ev) => Math.abs(a.v - b.v)))
        .process(values),
    );
    expect(r.records).toEqual(["50,48,55"]);
  });
});

describe("custom triggers", () => {
  /** Fires when the sum of values reaches a threshold, then starts over; its state is per window. */
  class SumTrigger extends Trigger<Ev, GlobalWindow> {
    private readonly sum = new ReducingStateDescriptor<number>("sum", (a, b) => a + b);
    onElement(e: Ev, _ts: number | undefined, _w: GlobalWindow, ctx: TriggerContext): TriggerResult {
      const s = ctx.getPartitionedState(this.sum);
      s.add(e.v);
      if (s.get()! < 10) return TriggerResult.CONTINUE;
      s.clear();
      return TriggerResult.FIRE_AND_PURGE;
    }
    onEventTime(): TriggerResult {
      return TriggerResult.CONTINUE;
    }
    onProcessingTime(): TriggerResult {
      return TriggerResult.CONTINUE;
    }
    clear(_w: GlobalWindow, ctx: TriggerContext): void {
      ctx.getPartitionedState(this.sum).clear();
    }
  }

  it("a trigger keeps its state per key and window", async () => {
    const r = await runLocally((env) =>
      eventStream(env, [ev("a", 1, 4), ev("b", 2, 9), ev("a", 3, 7), ev("b", 4, 1), ev("a", 5, 10), ev("b", 6, 3)], 0)
        .keyBy((e) => e.k)
        .window(GlobalWindows.create())
        .trigger(new SumTrigger())
        .process((k: string, _ctx: unknown, els: Ev[], out: Collector<string>) => out.collect(`${k}:${els.map((e) => e.v).join("+")}`)),
    );
    expect(r.records).toEqual(["a:4+7", "b:9+1", "a:10"]);
  });

  it("global windows without a trigger never fire", async () => {
    const r = await runLocally((env) =>
      eventStream(env, [ev("a", 1)], 0)
        .keyBy((e) => e.k)
        .window(GlobalWindows.create())
        .sum("v"),
    );
    expect(r.records).toEqual([]);
  });
});
