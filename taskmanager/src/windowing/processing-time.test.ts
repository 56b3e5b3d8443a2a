import { describe, expect, it } from "vitest";
import {
  type Collector,
  ContinuousProcessingTimeTrigger,
  GlobalWindows,
  type ProcessWindowContext,
  ProcessingTimeSessionWindows,
  SlidingProcessingTimeWindows,
  type TimeWindow,
  TumblingEventTimeWindows,
  TumblingProcessingTimeWindows,
} from "@riffle/sdk";
import { runLocally } from "../testing/index.js";
import { EVERY_RECORD, type Ev, eventStream } from "./fixtures.js";

const n = (count: number, k = "a"): Ev[] => Array.from({ length: count }, (_, i) => ({ k, t: i, v: i }));
const windowed = (k: string, ctx: ProcessWindowContext<TimeWindow>, els: Ev[], out: Collector<string>) =>
  out.collect(`${k}[${ctx.window.start},${ctx.window.end}) ${els.length}`);

describe("processing-time windows (manual clock)", () => {
  it("tumbling windows fire when the clock passes their end, with the elements that arrived meanwhile", async () => {
    // Element i arrives at processing time 100 * i; after the last round the test moves the clock on.
    const r = await runLocally(
      (env) =>
        env
          .fromElements(...n(25))
          .keyBy((e) => e.k)
          .window(TumblingProcessingTimeWindows.of(1_000))
          .process(windowed),
      { pollBatch: 1, clockStepPerPoll: 100, onRound: (clock, round) => round === 24 && clock.advanceBy(10_000) },
    );
    expect(r.records).toEqual(["a[0,1000) 10", "a[1000,2000) 10", "a[2000,3000) 5"]);
    expect(r.rounds).toEqual([9, 19, 24]);
    expect(r.timestamps).toEqual([999, 1_999, 2_999]);
  });

  it("windows still open when the input ends do not fire (as in Flink)", async () => {
    const r = await runLocally(
      (env) =>
        env
          .fromElements(...n(15))
          .keyBy((e) => e.k)
          .window(TumblingProcessingTimeWindows.of(1_000))
          .process(windowed),
      { pollBatch: 1, clockStepPerPoll: 100 },
    );
    expect(r.records).toEqual(["a[0,1000) 10"]);
  });

  it("sliding windows", async () => {
    const r = await runLocally(
      (env) =>
        env
          .fromElements(...n(20))
          .keyBy((e) => e.k)
          .window(SlidingProcessingTimeWindows.of(2_000, 1_000))
          .process(windowed),
      { pollBatch: 1, clockStepPerPoll: 100, onRound: (clock, round) => round === 19 && clock.advanceBy(10_000) },
    );
    expect(r.records).toEqual(["a[-1000,1000) 10", "a[0,2000) 20", "a[1000,3000) 10"]);
  });

  it("sessions end after a gap of the clock without elements", async () => {
    // Elements 0-4 arrive at 0..400; the clock then jumps by 5000, so elements 5-7 arrive at 5500..5700.
    const r = await runLocally(
      (env) =>
        env
          .fromElements(...n(8))
          .keyBy((e) => e.k)
          .window(ProcessingTimeSessionWindows.withGap(1_000))
          .process(windowed),
      { pollBatch: 1, clockStepPerPoll: 100, onRound: (clock, round) => (round === 4 || round === 7) && clock.advanceBy(5_000) },
    );
    expect(r.records).toEqual(["a[0,1400) 5", "a[5500,6700) 3"]);
    expect(r.rounds).toEqual([4, 7]);
  });

  it("a continuous processing-time trigger gives early results of a global window", async () => {
    const r = await runLocally(
      (env) =>
        env
          .fromElements(...n(12))
          .keyBy((e) => e.k)
          .window(GlobalWindows.create())
          .trigger(ContinuousProcessingTimeTrigger.of(500))
          .process((_k: string, _ctx: unknown, els: Ev[], out: Collector<number>) => out.collect(els.length)),
      { pollBatch: 1, clockStepPerPoll: 100 },
    );
    // Fires at 500 and 1000 of processing time; the input ends at 1200, before the next fire.
    expect(r.records).toEqual([5, 10]);
  });
});

describe("windowAll", () => {
  const events: Ev[] = [
    { k: "a", t: 100, v: 1 },
    { k: "b", t: 200, v: 2 },
    { k: "c", t: 1_100, v: 3 },
    { k: "a", t: 1_200, v: 4 },
    { k: "b", t: 2_500, v: 5 },
  ];

  it("windows over the whole stream, whatever the keys", async () => {
    const r = await runLocally(
      (env) =>
        eventStream(env, events, 0)
          .windowAll(TumblingEventTimeWindows.of(1_000))
          .process((ctx: ProcessWindowContext<TimeWindow>, els: Ev[], out: Collector<string>) =>
            out.collect(`[${ctx.window.start},${ctx.window.end}) ${els.map((e) => e.k).join("")}`),
          ),
      EVERY_RECORD,
    );
    expect(r.records).toEqual(["[0,1000) ab", "[1000,2000) ca", "[2000,3000) b"]);
    expect(r.graph.vertices.find((v) => v.name.startsWith("AllWindow"))?.parallelism).toBe(1);
  });

  it("reduce, aggregate and count windows", async () => {
    const sums = await runLocally((env) => eventStream(env, events, 0).windowAll(TumblingEventTimeWindows.of(1_000)).sum("v"));
    expect(sums.records.map((e) => e.v)).toEqual([3, 7, 5]);
    const counts = await runLocally((env) =>
      eventStream(env, events, 0)
        .windowAll(TumblingEventTimeWindows.of(10_000))
        .aggregate(
          { createAccumulator: () => 0, add: (_e: Ev, n: number) => n + 1, getResult: (n: number) => n, merge: (a: number, b: number) => a + b },
          (ctx: ProcessWindowContext<TimeWindow>, ns: number[], out: Collector<string>) => out.collect(`${ctx.window.end}:${ns[0]}`),
        ),
    );
    expect(counts.records).toEqual(["10000:5"]);
    const pairs = await runLocally((env) => eventStream(env, events, 0).countWindowAll(2).sum("v"));
    expect(pairs.records.map((e) => e.v)).toEqual([3, 7]);
  });

  it("cannot run in parallel", async () => {
    await expect(runLocally((env) => eventStream(env, events, 0).windowAll(TumblingEventTimeWindows.of(1_000)).sum("v").setParallelism(2))).rejects.toThrow(
      /at most 1/,
    );
  });
});
