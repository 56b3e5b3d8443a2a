import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Collector, CollectionSource, OutputTag, type ProcessJoinContext, WatermarkStrategy } from "@riffle/sdk";
import { IntervalJoinOperator, type IntervalJoinSpec } from "@riffle/sdk/internal";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runLocally } from "../testing/index.js";
import { OperatorHarness, seededRandom, sorted } from "./join-test-util.js";

interface Ev {
  id: string;
  k: string;
  t: number;
}

interface Bounds {
  lower: number;
  upper: number;
  lowerExclusive: boolean;
  upperExclusive: boolean;
}

/** The reference: every pair by a nested loop, as `left|right@timestamp`. */
function bruteForce(left: readonly Ev[], right: readonly Ev[], b: Bounds): string[] {
  const out: string[] = [];
  for (const l of left) {
    for (const r of right) {
      if (l.k !== r.k) continue;
      const lo = l.t + b.lower;
      const hi = l.t + b.upper;
      const aboveLower = b.lowerExclusive ? r.t > lo : r.t >= lo;
      const belowUpper = b.upperExclusive ? r.t < hi : r.t <= hi;
      if (aboveLower && belowUpper) out.push(`${l.id}|${r.id}@${Math.max(l.t, r.t)}`);
    }
  }
  return out;
}

/**
 * Events whose timestamps are out of order by at most `outOfOrderness`: the base time only grows,
 * and each timestamp lies up to the bound below it, so no element is ever behind the watermark of a
 * bounded-out-of-orderness strategy with that bound. Steps are small, so equal timestamps and
 * pairs exactly on a bound are frequent.
 */
function events(rand: ReturnType<typeof seededRandom>, prefix: string, n: number, keys: readonly string[], outOfOrderness: number): Ev[] {
  const out: Ev[] = [];
  let base = 1_000;
  for (let i = 0; i < n; i++) {
    base += rand.int(0, 6);
    out.push({ id: `${prefix}${i}`, k: rand.pick(keys), t: base - rand.int(0, outOfOrderness) });
  }
  return out;
}

function source(env: Parameters<Parameters<typeof runLocally>[0]>[0], evs: Ev[], outOfOrderness: number) {
  return env.fromSource(
    new CollectionSource(evs),
    WatermarkStrategy.forBoundedOutOfOrderness<Ev>(outOfOrderness).withTimestampAssigner((e) => e.t),
    "events",
  );
}

/** `-20` as `"-20ms"`: between() takes duration strings too. */
const asText = (ms: number): string => (ms < 0 ? `-${-ms}ms` : `${ms}ms`);

async function runJoin(left: Ev[], right: Ev[], b: Bounds, outOfOrderness: number, pollBatch: number, textBounds = false) {
  const r = await runLocally(
    (env) => {
      let joined = source(env, left, outOfOrderness)
        .keyBy((e) => e.k)
        .intervalJoin(source(env, right, outOfOrderness).keyBy((e) => e.k))
        .between(textBounds ? asText(b.lower) : b.lower, textBounds ? asText(b.upper) : b.upper);
      if (b.lowerExclusive) joined = joined.lowerBoundExclusive();
      if (b.upperExclusive) joined = joined.upperBoundExclusive();
      return joined.process((l: Ev, rr: Ev, ctx: ProcessJoinContext, out: Collector<string>) => {
        expect(ctx.leftTimestamp).toBe(l.t);
        expect(ctx.rightTimestamp).toBe(rr.t);
        out.collect(`${l.id}|${rr.id}@${ctx.timestamp}`);
      });
    },
    // Every poll round moves the clock past the watermark interval: watermarks advance during the
    // run, so cleanup timers fire and buffers shrink while elements still arrive.
    { pollBatch, clockStepPerPoll: 200 },
  );
  r.records.forEach((rec, i) => {
    expect(rec.endsWith(`@${r.timestamps[i]}`)).toBe(true);
  });
  return r.records;
}

describe("interval join", () => {
  it("matches a nested-loop reference on random data (several seeds, both bound kinds, out-of-order input)", async () => {
    let pairs = 0;
    for (let seed = 1; seed <= 24; seed++) {
      const rand = seededRandom(seed);
      const outOfOrderness = rand.pick([0, 3, 10, 25]);
      const keys = ["a", "b", "c"].slice(0, rand.int(1, 3));
      const left = events(rand, "L", rand.int(20, 120), keys, outOfOrderness);
      const right = events(rand, "R", rand.int(20, 120), keys, outOfOrderness);
      const lower = rand.int(-30, 20);
      const bounds: Bounds = { lower, upper: lower + rand.int(0, 30), lowerExclusive: rand.bool(), upperExclusive: rand.bool() };
      const got = await runJoin(left, right, bounds, outOfOrderness, rand.int(1, 8), rand.bool());
      const want = bruteForce(left, right, bounds);
      expect(sorted(got), `seed ${seed}: ${JSON.stringify(bounds)} ooo=${outOfOrderness}`).toEqual(sorted(want));
      pairs += want.length;
    }
    // The data is dense enough that the comparison means something.
    expect(pairs).toBeGreaterThan(1000);
  });

  it("handles bounds that are both negative, both positive, and a single point", async () => {
    const rand = seededRandom(99);
    const left = events(rand, "L", 80, ["a", "b"], 10);
    const right = events(rand, "R", 80, ["a", "b"], 10);
    for (const bounds of [
      { lower: -20, upper: -5, lowerExclusive: false, upperExclusive: false },
      { lower: 5, upper: 20, lowerExclusive: true, upperExclusive: false },
      { lower: 0, upper: 0, lowerExclusive: false, upperExclusive: false },
      { lower: -3, upper: 3, lowerExclusive: true, upperExclusive: true },
      // Exclusive on both ends of a point: nothing pairs (as in Flink).
      { lower: 0, upper: 0, lowerExclusive: true, upperExclusive: true },
    ]) {
      const got = await runJoin(left, right, bounds, 10, 4);
      expect(sorted(got), JSON.stringify(bounds)).toEqual(sorted(bruteForce(left, right, bounds)));
    }
  });

  it("drops late elements, or sends them to the late-data side outputs", async () => {
    const lateLeft = new OutputTag<Ev>("late-left");
    const lateRight = new OutputTag<Ev>("late-right");
    const left: Ev[] = [
      { id: "l1", k: "a", t: 1000 },
      { id: "l2", k: "a", t: 2000 },
      { id: "l3", k: "a", t: 500 },
    ];
    const right: Ev[] = [
      { id: "r1", k: "a", t: 1500 },
      { id: "r2", k: "a", t: 100 },
    ];
    const build = (withSides: boolean) => (env: Parameters<Parameters<typeof runLocally>[0]>[0]) => {
      let joined = source(env, left, 0)
        .keyBy((e) => e.k)
        .intervalJoin(source(env, right, 0).keyBy((e) => e.k))
        .between(-2000, 2000);
      if (withSides) joined = joined.sideOutputLeftLateData(lateLeft).sideOutputRightLateData(lateRight);
      const main = joined.process((l: Ev, r: Ev, _ctx: ProcessJoinContext, out: Collector<string>) => out.collect(`${l.id}|${r.id}`));
      if (!withSides) return main;
      return main.union(
        main.getSideOutput(lateLeft).map((e) => `late left ${e.id}@${e.t}`),
        main.getSideOutput(lateRight).map((e) => `late right ${e.id}@${e.t}`),
      );
    };
    // One element per source and poll round, and a watermark after each round: r2 (100) arrives
    // after the watermark reached 999, l3 (500) after it reached 1499.
    const options = { pollBatch: 1, clockStepPerPoll: 200 };
    const dropped = await runLocally(build(false), options);
    expect(sorted(dropped.records)).toEqual(["l1|r1", "l2|r1"]);
    expect(dropped.lateRecordsDropped).toBe(2);
    const sides = await runLocally(build(true), options);
    expect(sorted(sides.records)).toEqual(["l1|r1", "l2|r1", "late left l3@500", "late right r2@100"]);
    expect(sides.lateRecordsDropped).toBe(0);
    const tsOf = Object.fromEntries(sides.records.map((x, i) => [x, sides.timestamps[i]]));
    expect(tsOf["late left l3@500"]).toBe(500);
    expect(tsOf["l2|r1"]).toBe(2000);
  });

  it("side outputs of the join function carry the result timestamp", async () => {
    const tag = new OutputTag<string>("pairs");
    const r = await runLocally((env) => {
      const joined = env
        .fromElements({ id: "l", k: "a", t: 10 })
        .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner((e) => e.t))
        .keyBy((e) => e.k)
        .intervalJoin(
          env
            .fromElements({ id: "r", k: "a", t: 25 })
            .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner((e) => e.t))
            .keyBy((e) => e.k),
        )
        .between(0, 20)
        .process({
          processElement(l: Ev, rr: Ev, ctx: ProcessJoinContext, _out: Collector<never>) {
            ctx.output(tag, `${l.id}${rr.id}`);
          },
        });
      return joined.getSideOutput(tag);
    });
    expect(r.records).toEqual(["lr"]);
    expect(r.timestamps).toEqual([25]);
  });

  it("refuses elements without timestamps with a clear error", async () => {
    await expect(
      runLocally((env) =>
        env
          .fromElements({ k: "a" })
          .keyBy((e) => e.k)
          .intervalJoin(env.fromElements({ k: "a" }).keyBy((e) => e.k))
          .between(0, 1)
          .process((l, r, _ctx, out: Collector<string>) => out.collect(`${l.k}${r.k}`)),
      ),
    ).rejects.toThrow(/interval join: every element needs an event-time timestamp/);
  });

  it("refuses bad bounds when the job is built", async () => {
    await expect(
      runLocally((env) => {
        const s = env.fromElements({ k: "a" }).keyBy((e) => e.k);
        return s
          .intervalJoin(s)
          .between(10, 5)
          .process((_l, _r, _ctx, _out: Collector<string>) => {});
      }),
    ).rejects.toThrow(/lower \(10\) must not be above upper \(5\)/);
    await expect(
      runLocally((env) => {
        const s = env.fromElements({ k: "a" }).keyBy((e) => e.k);
        return s
          .intervalJoin(s)
          .between(0.5, 5)
          .process((_l, _r, _ctx, _out: Collector<string>) => {});
      }),
    ).rejects.toThrow(/integer milliseconds/);
    await expect(
      runLocally((env) => {
        const s = env.fromElements({ k: "a" }).keyBy((e) => e.k);
        return s
          .intervalJoin(s)
          .between("-5 parsecs", 5)
          .process((_l, _r, _ctx, _out: Collector<string>) => {});
      }),
    ).rejects.toThrow(/the lower bound: invalid duration "5 parsecs"/);
  });
});

describe("interval join operator (state)", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "riffle-interval-join-"));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const spec: IntervalJoinSpec = {
    lowerBound: -10,
    upperBound: 20,
    lowerBoundInclusive: true,
    upperBoundInclusive: true,
    leftLateTag: undefined,
    rightLateTag: undefined,
  };
  const newOperator = () =>
    new IntervalJoinOperator(
      (l: Ev, r: Ev, _ctx: ProcessJoinContext, out: Collector<string>) => out.collect(`${l.id}|${r.id}`),
      (e: Ev) => e.k,
      (e: Ev) => e.k,
      spec,
    );

  it("keeps buffers in keyed state and clears them as the watermark passes (Flink's cleanup times)", async () => {
    const h = await OperatorHarness.open(newOperator());
    const op = h.operator;
    op.processElement({ id: "l1", k: "a", t: 100 }, 100); // left kept until watermark >= 100 + 20
    op.processElement2({ id: "r1", k: "a", t: 105 }, 105); // right kept until watermark >= 105 + 10
    op.processElement2({ id: "r2", k: "b", t: 105 }, 105);
    expect(h.values()).toEqual(["l1|r1"]);
    expect(h.keyed.rowCount()).toBe(2); // keys a and b
    op.processWatermark(114);
    op.processElement({ id: "l2", k: "a", t: 114 }, 114); // r1 (105) is still in [104, 134]
    expect(h.values()).toEqual(["l1|r1", "l2|r1"]);
    op.processWatermark(115); // r1 and r2 cleaned up
    op.processElement({ id: "l3", k: "a", t: 115 }, 115); // r1 would be in range but is gone, as in Flink
    expect(h.values()).toEqual(["l1|r1", "l2|r1"]);
    expect(h.watermarks).toEqual([114, 115]);
    op.processWatermark(135); // l1 (120), l2 (134) and l3 (135) cleaned up
    expect(h.keyed.rowCount()).toBe(0);
    await h.close();
  });

  it("survives a checkpoint and restores at another parallelism (buffers and cleanup timers move with their keys)", async () => {
    const keys = ["a", "b", "c", "d", "e", "f", "g", "h"];
    const dir = join(root, "rescale");
    const before = await OperatorHarness.open(newOperator());
    for (const k of keys) before.operator.processElement({ id: `l-${k}`, k, t: 100 }, 100);
    before.operator.processWatermark(95);
    const handles = await before.snapshot(1, dir);
    await before.close();

    const after: OperatorHarness[] = [];
    for (let i = 0; i < 3; i++) {
      after.push(
        await OperatorHarness.open(newOperator(), { subtaskIndex: i, parallelism: 3, restore: { dir, keyed: [handles.keyed], operator: [handles.operator] } }),
      );
    }
    const owner = (k: string) =>
      after.find((h) => {
        try {
          h.keyed.setCurrentKey(k);
          return true;
        } catch {
          return false;
        }
      })!;
    for (const k of keys) owner(k).operator.processElement2({ id: `r-${k}`, k, t: 110 }, 110);
    expect(sorted(after.flatMap((h) => h.values()))).toEqual(sorted(keys.map((k) => `l-${k}|r-${k}`)));
    // The restored cleanup timers fire on the subtasks that own the keys.
    for (const h of after) h.operator.processWatermark(1_000);
    for (const h of after) expect(h.keyed.rowCount()).toBe(0);
    expect(after.filter((h) => h.values().length > 0).length).toBeGreaterThan(1);
    for (const h of after) await h.close();
  });
});
