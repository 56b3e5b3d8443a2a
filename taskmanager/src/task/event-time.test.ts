import { describe, expect, it } from "vitest";
import { CollectionSource, type Collector, type KeyedProcessContext, type OnTimerContext, OutputTag, WatermarkStrategy } from "@riffle/sdk";
import { runLocally } from "../testing/index.js";

interface Ev {
  k: string;
  t: number;
}

const events: Ev[] = [
  { k: "a", t: 1000 },
  { k: "b", t: 1500 },
  { k: "a", t: 900 },
  { k: "a", t: 3000 },
  { k: "b", t: 2500 },
  { k: "a", t: 6000 },
];

describe("event time (operators in-process)", () => {
  it("a source strategy assigns timestamps; they travel with records through map and filter", async () => {
    const r = await runLocally((env) =>
      env
        .fromSource(
          new CollectionSource(events),
          WatermarkStrategy.forBoundedOutOfOrderness<Ev>(500).withTimestampAssigner((e) => e.t),
          "events",
        )
        .map((e) => e.k)
        .filter(() => true),
    );
    expect(r.records).toEqual(["a", "b", "a", "a", "b", "a"]);
    expect(r.timestamps).toEqual([1000, 1500, 900, 3000, 2500, 6000]);
  });

  it("event-time timers of a KeyedProcessFunction fire in order as the watermark passes them, and at the end of input", async () => {
    const r = await runLocally(
      (env) =>
        env
          .fromElements(...events)
          .assignTimestampsAndWatermarks(WatermarkStrategy.forBoundedOutOfOrderness<Ev>(0).withTimestampAssigner((e) => e.t))
          .keyBy((e) => e.k)
          .process({
            processElement(e: Ev, ctx: KeyedProcessContext<string>) {
              ctx.timerService().registerEventTimeTimer(e.t + 1000);
            },
            onTimer(ts: number, ctx: OnTimerContext<string>, out: Collector<string>) {
              out.collect(`${ctx.getCurrentKey()}@${ts}:${ctx.timeDomain}:wm<${ctx.timerService().currentWatermark() >= ts ? "=" : "!"}`);
            },
          }),
      { pollBatch: 1, clockStepPerPoll: 200 },
    );
    // Timers fire in timestamp order; the ones after the last watermark fire at the end of input.
    expect(r.records).toEqual([
      "a@1900:EVENT_TIME:wm<=",
      "a@2000:EVENT_TIME:wm<=",
      "b@2500:EVENT_TIME:wm<=",
      "b@3500:EVENT_TIME:wm<=",
      "a@4000:EVENT_TIME:wm<=",
      "a@7000:EVENT_TIME:wm<=",
    ]);
    expect(r.timestamps).toEqual([1900, 2000, 2500, 3500, 4000, 7000]);
  });

  it("side outputs reach their own consumers, with timestamps", async () => {
    const small = new OutputTag<number>("small");
    const r = await runLocally((env) => {
      const main = env
        .fromElements(1, 20, 3, 40)
        .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((n) => n * 10))
        .process({
          processElement(n: number, ctx, out: Collector<string>) {
            if (n < 10) ctx.output(small, n);
            else out.collect(`big ${n}`);
          },
        });
      return main.union(main.getSideOutput(small).map((n) => `small ${n}`));
    });
    expect([...r.records].sort()).toEqual(["big 20", "big 40", "small 1", "small 3"]);
    const tsOf = Object.fromEntries(r.records.map((x, i) => [x, r.timestamps[i]]));
    expect(tsOf).toEqual({ "big 20": 200, "big 40": 400, "small 1": 10, "small 3": 30 });
  });

  it("connected keyed streams share state per key across both inputs", async () => {
    const r = await runLocally((env) => {
      const rules = env.fromElements({ k: "a", mult: 10 }, { k: "b", mult: 100 });
      const nums = env.fromElements({ k: "a", n: 1 }, { k: "b", n: 2 }, { k: "a", n: 3 });
      return rules
        .connect(nums)
        .keyBy(
          (r) => r.k,
          (n) => n.k,
        )
        .process({
          pending: new Map<string, number[]>(),
          mult: new Map<string, number>(),
          processElement1(rule: { k: string; mult: number }, _ctx: KeyedProcessContext<string>, out: Collector<string>) {
            this.mult.set(rule.k, rule.mult);
            for (const n of this.pending.get(rule.k) ?? []) out.collect(`${rule.k}=${n * rule.mult}`);
            this.pending.delete(rule.k);
          },
          processElement2(x: { k: string; n: number }, _ctx: KeyedProcessContext<string>, out: Collector<string>) {
            const m = this.mult.get(x.k);
            if (m === undefined) this.pending.set(x.k, [...(this.pending.get(x.k) ?? []), x.n]);
            else out.collect(`${x.k}=${x.n * m}`);
          },
        });
    });
    expect([...r.records].sort()).toEqual(["a=10", "a=30", "b=200"]);
  });
});
