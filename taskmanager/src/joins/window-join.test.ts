import {
  type Collector,
  CollectionSource,
  CountTrigger,
  EventTimeSessionWindows,
  type RuntimeContext,
  SlidingEventTimeWindows,
  TumblingEventTimeWindows,
  WatermarkStrategy,
} from "@riffle/sdk";
import { describe, expect, it } from "vitest";
import { runLocally } from "../testing/index.js";
import { seededRandom, sorted } from "./join-test-util.js";

interface Ev {
  id: string;
  k: string;
  t: number;
}

type Env = Parameters<Parameters<typeof runLocally>[0]>[0];

/** Window starts of the windows holding `t`: sliding windows of `size` every `slide` (tumbling: slide = size). */
function windowsOf(t: number, size: number, slide: number): number[] {
  const starts: number[] = [];
  const last = t - (((t % slide) + slide) % slide);
  for (let start = last; start > t - size; start -= slide) starts.push(start);
  return starts;
}

/** Reference window join: every pair of equal keys in a common window, as `left|right@maxTimestamp`. */
function bruteForceJoin(left: readonly Ev[], right: readonly Ev[], size: number, slide: number): string[] {
  const out: string[] = [];
  for (const l of left) {
    for (const r of right) {
      if (l.k !== r.k) continue;
      const rs = new Set(windowsOf(r.t, size, slide));
      for (const start of windowsOf(l.t, size, slide)) if (rs.has(start)) out.push(`${l.id}|${r.id}@${start + size - 1}`);
    }
  }
  return out;
}

/** Reference coGroup: one group per key and window holding any element, as `key@maxTs:[left ids]/[right ids]`. */
function bruteForceCoGroup(left: readonly Ev[], right: readonly Ev[], size: number, slide: number): string[] {
  const groups = new Map<string, { k: string; maxTs: number; first: string[]; second: string[] }>();
  const add = (e: Ev, side: "first" | "second") => {
    for (const start of windowsOf(e.t, size, slide)) {
      const id = `${e.k}@${start}`;
      let g = groups.get(id);
      if (!g) groups.set(id, (g = { k: e.k, maxTs: start + size - 1, first: [], second: [] }));
      g[side].push(e.id);
    }
  };
  for (const l of left) add(l, "first");
  for (const r of right) add(r, "second");
  return [...groups.values()].map((g) => group(g.k, g.maxTs, g.first, g.second));
}

function group(k: string, maxTs: number, first: readonly string[], second: readonly string[]): string {
  return `${k}@${maxTs}:[${sorted(first).join(",")}]/[${sorted(second).join(",")}]`;
}

/** Out of order by at most `outOfOrderness` (never behind a bounded-out-of-orderness watermark). */
function events(rand: ReturnType<typeof seededRandom>, prefix: string, n: number, keys: readonly string[], outOfOrderness: number): Ev[] {
  const out: Ev[] = [];
  let base = 1_000;
  for (let i = 0; i < n; i++) {
    base += rand.int(0, 8);
    out.push({ id: `${prefix}${i}`, k: rand.pick(keys), t: base - rand.int(0, outOfOrderness) });
  }
  return out;
}

function source(env: Env, evs: Ev[], outOfOrderness: number) {
  return env.fromSource(
    new CollectionSource(evs),
    WatermarkStrategy.forBoundedOutOfOrderness<Ev>(outOfOrderness).withTimestampAssigner((e) => e.t),
    "events",
  );
}

/** A random case: data, keys, window size and slide (slide = size: tumbling). */
function randomCase(seed: number) {
  const rand = seededRandom(seed);
  const outOfOrderness = rand.pick([0, 5, 20]);
  const keys = ["a", "b", "c"].slice(0, rand.int(1, 3));
  const left = events(rand, "L", rand.int(10, 90), keys, outOfOrderness);
  const right = events(rand, "R", rand.int(10, 90), keys, outOfOrderness);
  const size = rand.pick([10, 25, 60]);
  const sliding = rand.bool();
  const slide = sliding ? rand.pick([5, 10, size]) : size;
  const assigner = sliding ? SlidingEventTimeWindows.of(size, slide) : TumblingEventTimeWindows.of(size);
  return {
    left,
    right,
    outOfOrderness,
    size,
    slide,
    assigner,
    pollBatch: rand.int(1, 8),
    label: `seed ${seed}: size ${size} slide ${slide} ooo ${outOfOrderness}`,
  };
}

describe("window join", () => {
  it("matches a nested-loop reference on random data (tumbling and sliding windows, out-of-order input)", async () => {
    let pairs = 0;
    for (let seed = 1; seed <= 16; seed++) {
      const c = randomCase(seed);
      const r = await runLocally(
        (env) =>
          source(env, c.left, c.outOfOrderness)
            .join(source(env, c.right, c.outOfOrderness))
            .where((e) => e.k)
            .equalTo((e) => e.k)
            .window(c.assigner)
            .apply((l: Ev, rr: Ev) => `${l.id}|${rr.id}`),
        { pollBatch: c.pollBatch, clockStepPerPoll: 200 },
      );
      // Results carry the window's maxTimestamp.
      const got = r.records.map((x, i) => `${x}@${r.timestamps[i]}`);
      const want = bruteForceJoin(c.left, c.right, c.size, c.slide);
      expect(sorted(got), c.label).toEqual(sorted(want));
      pairs += want.length;
    }
    expect(pairs).toBeGreaterThan(1000);
  });

  it("a FlatJoinFunction emits any number of results per pair; rich hooks of the function run", async () => {
    const c = randomCase(77);
    let opened = 0;
    const r = await runLocally(
      (env) =>
        source(env, c.left, c.outOfOrderness)
          .join(source(env, c.right, c.outOfOrderness))
          .where((e) => e.k)
          .equalTo((e) => e.k)
          .window(TumblingEventTimeWindows.of(30))
          .apply({
            open(_ctx: RuntimeContext) {
              opened++;
            },
            join(l: Ev, rr: Ev, out: Collector<string>) {
              if (l.t <= rr.t) {
                out.collect(`${l.id}|${rr.id}`);
                out.collect(`${rr.id}|${l.id}`);
              }
            },
          }),
      { pollBatch: 3, clockStepPerPoll: 200 },
    );
    const want = bruteForceJoin(c.left, c.right, 30, 30)
      .map((x) => x.replace(/@.*/, ""))
      .filter((x) => {
        const [l, rr] = x.split("|");
        return c.left.find((e) => e.id === l)!.t <= c.right.find((e) => e.id === rr)!.t;
      })
      .flatMap((x) => [x, x.split("|").reverse().join("|")]);
    expect(sorted(r.records)).toEqual(sorted(want));
    expect(opened).toBe(1);
  });

  it("joins a stream with itself, and with keys of another type per input", async () => {
    const nums = [1, 2, 3, 4, 5, 6].map((n) => ({ n, t: n * 10 }));
    const r = await runLocally((env) => {
      const s = env.fromSource(
        new CollectionSource(nums),
        WatermarkStrategy.forMonotonousTimestamps<{ n: number; t: number }>().withTimestampAssigner((e) => e.t),
        "nums",
      );
      const words = env.fromSource(
        new CollectionSource([
          { w: "odd", t: 15 },
          { w: "even", t: 25 },
        ]),
        WatermarkStrategy.forMonotonousTimestamps<{ w: string; t: number }>().withTimestampAssigner((e) => e.t),
        "words",
      );
      const self = s
        .join(s)
        .where((e) => e.n % 2)
        .equalTo((e) => e.n % 2)
        .window(TumblingEventTimeWindows.of(100))
        .apply((a, b) => `${a.n}${b.n}`);
      const named = s
        .join(words)
        .where((e): string => (e.n % 2 === 1 ? "odd" : "even"))
        .equalTo((w) => w.w)
        .window(TumblingEventTimeWindows.of(100))
        .apply((a, w) => `${a.n}:${w.w}`);
      return self.union(named);
    });
    const selfPairs = nums.flatMap((a) => nums.filter((b) => a.n % 2 === b.n % 2).map((b) => `${a.n}${b.n}`));
    expect(sorted(r.records)).toEqual(sorted([...selfPairs, "1:odd", "3:odd", "5:odd", "2:even", "4:even", "6:even"]));
    expect(new Set(r.timestamps)).toEqual(new Set([99]));
  });
});

describe("window coGroup", () => {
  it("matches a reference grouping on random data (tumbling and sliding windows; one side may be empty)", async () => {
    let oneSided = 0;
    for (let seed = 101; seed <= 116; seed++) {
      const c = randomCase(seed);
      const r = await runLocally(
        (env) =>
          source(env, c.left, c.outOfOrderness)
            .coGroup(source(env, c.right, c.outOfOrderness))
            .where((e) => e.k)
            .equalTo((e) => e.k)
            .window(c.assigner)
            .apply((first: readonly Ev[], second: readonly Ev[], out: Collector<{ k: string; first: string[]; second: string[] }>) => {
              expect(first.length + second.length).toBeGreaterThan(0);
              const k = (first[0] ?? second[0])!.k;
              expect([...first, ...second].every((e) => e.k === k)).toBe(true);
              out.collect({ k, first: first.map((e) => e.id), second: second.map((e) => e.id) });
            }),
        { pollBatch: c.pollBatch, clockStepPerPoll: 200 },
      );
      const got = r.records.map((g, i) => group(g.k, r.timestamps[i]!, g.first, g.second));
      const want = bruteForceCoGroup(c.left, c.right, c.size, c.slide);
      expect(sorted(got), c.label).toEqual(sorted(want));
      oneSided += want.filter((g) => g.includes("[]")).length;
    }
    // Windows with elements of one input only were part of the comparison.
    expect(oneSided).toBeGreaterThan(5);
  });

  it("works with merging (session) windows and a custom trigger", async () => {
    const left: Ev[] = [
      { id: "l1", k: "a", t: 100 },
      { id: "l2", k: "a", t: 130 },
      { id: "l3", k: "a", t: 400 },
    ];
    const right: Ev[] = [
      { id: "r1", k: "a", t: 160 },
      { id: "r2", k: "b", t: 170 },
    ];
    const sessions = await runLocally((env) =>
      source(env, left, 0)
        .coGroup(source(env, right, 0))
        .where((e) => e.k)
        .equalTo((e) => e.k)
        .window(EventTimeSessionWindows.withGap(50))
        .apply((first: readonly Ev[], second: readonly Ev[], out: Collector<string>) =>
          out.collect(`${sorted(first.map((e) => e.id)).join(",")}/${sorted(second.map((e) => e.id)).join(",")}`),
        ),
    );
    // Session a: l1, l2, r1 (gaps < 50) until 160 + 50; a: l3 alone; b: r2 alone.
    const byRecord = Object.fromEntries(sessions.records.map((x, i) => [x, sessions.timestamps[i]]));
    expect(byRecord).toEqual({ "l1,l2/r1": 209, "l3/": 449, "/r2": 219 });

    // A count trigger fires each key's window on every second element, before the watermark.
    const counted = await runLocally((env) =>
      source(env, left, 0)
        .join(source(env, right, 0))
        .where((e) => e.k)
        .equalTo((e) => e.k)
        .window(TumblingEventTimeWindows.of(1000))
        .trigger(CountTrigger.of(2))
        .apply((l: Ev, rr: Ev) => `${l.id}|${rr.id}`),
    );
    expect(counted.records.length).toBeGreaterThan(0);
    expect(new Set(counted.records)).toEqual(new Set(["l1|r1", "l2|r1", "l3|r1"]));
  });

  it("refuses a missing key selector or function when the job is built", async () => {
    await expect(
      runLocally((env) =>
        env
          .fromElements(1)
          .join(env.fromElements(2))
          .where("n" as never)
          .equalTo((x) => x)
          .window(TumblingEventTimeWindows.of(10))
          .apply((a, b) => a + b),
      ),
    ).rejects.toThrow(/join\(\.\.\.\)\.where needs a key selector function/);
    await expect(
      runLocally((env) =>
        env
          .fromElements(1)
          .coGroup(env.fromElements(2))
          .where((x) => x)
          .equalTo((x) => x)
          .window(TumblingEventTimeWindows.of(10))
          .apply({} as never),
      ),
    ).rejects.toThrow(/a coGroup function must be a function or an object with a coGroup\(\) method/);
  });
});
