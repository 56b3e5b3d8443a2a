import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type BroadcastContext,
  type BroadcastReadOnlyContext,
  type BroadcastState,
  type Collector,
  CollectionSource,
  type KeyedBroadcastOnTimerContext,
  type KeyedBroadcastProcessFunction,
  type KeyedBroadcastReadOnlyContext,
  ListStateDescriptor,
  type ListState,
  MapStateDescriptor,
  OutputTag,
  type RuntimeContext,
  type KeyedStateStore,
  type ValueState,
  ValueStateDescriptor,
  WatermarkStrategy,
} from "@riffle/sdk";
import { BroadcastProcessOperator, KeyedBroadcastProcessOperator } from "@riffle/sdk/internal";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runLocally } from "../testing/index.js";
import { OperatorHarness, seededRandom, sorted } from "./join-test-util.js";

interface Rule {
  name: string;
  /** Matches payments of at least this amount. */
  min: number;
}

interface Payment {
  user: string;
  amount: number;
  t: number;
}

const rulesDesc = new MapStateDescriptor<string, Rule>("rules");

const rules: Rule[] = [
  { name: "large", min: 100 },
  { name: "medium", min: 50 },
  { name: "medium", min: 40 }, // replaces the one before
];

function payments(seed: number, n: number): Payment[] {
  const rand = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => ({ user: rand.pick(["ann", "bob", "cyd", "dan"]), amount: rand.int(0, 150), t: 1000 + i * 10 }));
}

/** The final rule set: later rules of the same name replace earlier ones. */
const finalRules = [...new Map(rules.map((r) => [r.name, r])).values()];

function expectedMatches(ps: readonly Payment[], rs: readonly Rule[]): string[] {
  const out: string[] = [];
  for (const p of ps) for (const r of rs) if (p.amount >= r.min) out.push(`${p.user}:${r.name}:${p.amount}`);
  return out;
}

/** Applies the rules to every payment; counts payments per user in keyed state. */
class MatchRulesCounting implements KeyedBroadcastProcessFunction<string, Payment, Rule, string> {
  static readonly counts = new Map<string, number>();
  private count!: ValueState<number>;

  open(ctx: RuntimeContext & KeyedStateStore) {
    this.count = ctx.getState(new ValueStateDescriptor<number>("count", 0));
  }

  processElement(p: Payment, ctx: KeyedBroadcastReadOnlyContext<string>, out: Collector<string>) {
    expect(ctx.getCurrentKey()).toBe(p.user);
    this.count.update(this.count.value()! + 1);
    MatchRulesCounting.counts.set(p.user, this.count.value()!);
    for (const rule of ctx.getBroadcastState(rulesDesc).values()) if (p.amount >= rule.min) out.collect(`${p.user}:${rule.name}:${p.amount}`);
  }

  processBroadcastElement(rule: Rule, ctx: BroadcastContext, out: Collector<string>) {
    ctx.getBroadcastState(rulesDesc).put(rule.name, rule);
    out.collect(`rule ${rule.name}>=${rule.min}`);
  }
}

/** Keeps payments that arrive before any rule in keyed state, and matches them when their timer fires. */
class MatchRulesWhenTimerFires implements KeyedBroadcastProcessFunction<string, Payment, Rule, string> {
  private pending!: ListState<Payment>;

  open(ctx: RuntimeContext & KeyedStateStore) {
    this.pending = ctx.getListState(new ListStateDescriptor<Payment>("pending"));
  }

  processElement(p: Payment, ctx: KeyedBroadcastReadOnlyContext<string>) {
    expect(ctx.getBroadcastState(rulesDesc).isEmpty()).toBe(true);
    expect(ctx.timestamp).toBe(p.t);
    this.pending.add(p);
    // The rule stream has no watermarks: the operator's watermark stays back until both inputs end.
    ctx.timerService().registerEventTimeTimer(p.t);
  }

  processBroadcastElement(rule: Rule, ctx: BroadcastContext) {
    ctx.getBroadcastState(rulesDesc).put(rule.name, rule);
  }

  onTimer(ts: number, ctx: KeyedBroadcastOnTimerContext<string>, out: Collector<string>) {
    expect(ctx.timeDomain).toBe("EVENT_TIME");
    const state = ctx.getBroadcastState(rulesDesc);
    const due = this.pending.get().filter((p) => p.t === ts);
    expect(due.every((p) => p.user === ctx.getCurrentKey())).toBe(true);
    for (const p of due) for (const rule of state.values()) if (p.amount >= rule.min) out.collect(`${p.user}:${rule.name}:${p.amount}`);
  }
}

describe("broadcast state pattern (keyed)", () => {
  it("rules that arrive before the data are applied to every element, on a keyed stream with keyed state", async () => {
    const ps = payments(1, 200);
    const r = await runLocally(
      (env) => {
        // The rule source is declared first and polled first with a batch that holds all rules.
        const ruleStream = env.fromCollection(rules).broadcast(rulesDesc);
        return env
          .fromCollection(ps)
          .keyBy((p) => p.user)
          .connect(ruleStream)
          .process(new MatchRulesCounting());
      },
      { pollBatch: 1000 },
    );
    const [ruleLog, matches] = [r.records.filter((x) => x.startsWith("rule ")), r.records.filter((x) => !x.startsWith("rule "))];
    expect(ruleLog).toEqual(["rule large>=100", "rule medium>=50", "rule medium>=40"]);
    expect(sorted(matches)).toEqual(sorted(expectedMatches(ps, finalRules)));
    expect(matches.length).toBeGreaterThan(50);
    // Keyed state of processElement is per key.
    for (const user of ["ann", "bob", "cyd", "dan"]) expect(MatchRulesCounting.counts.get(user)).toBe(ps.filter((p) => p.user === user).length);
    // Input 1 is hash-partitioned by key, input 2 broadcast.
    const target = r.graph.vertices.find((v) => v.name.startsWith("Co-Process-Broadcast-Keyed"))!;
    const partitioners = target.inputs.map((id, i) => [target.inputTypes![i], r.graph.edges.find((e) => e.id === id)!.partitioner]);
    expect(sorted(partitioners.map(String))).toEqual(["1,hash", "2,broadcast"]);
  });

  it("data that arrives before the rules waits in keyed state and is matched by an event-time timer", async () => {
    const ps = payments(2, 120);
    const r = await runLocally(
      (env) => {
        // The payments are declared first: all of them are processed before the first rule.
        const paymentStream = env.fromSource(
          new CollectionSource(ps),
          WatermarkStrategy.forMonotonousTimestamps<Payment>().withTimestampAssigner((p) => p.t),
          "payments",
        );
        const ruleStream = env.fromCollection(rules).broadcast(rulesDesc);
        return paymentStream
          .keyBy((p) => p.user)
          .connect(ruleStream)
          .process(new MatchRulesWhenTimerFires());
      },
      { pollBatch: 1000 },
    );
    expect(sorted(r.records)).toEqual(sorted(expectedMatches(ps, finalRules)));
    // Results of an event-time timer carry the timer's timestamp.
    const byRecord = new Map(r.records.map((x, i) => [x, r.timestamps[i]]));
    for (const p of ps)
      for (const rule of finalRules) if (p.amount >= rule.min) expect(byRecord.get(`${p.user}:${rule.name}:${p.amount}`)).toBeGreaterThanOrEqual(1000);
  });

  it("fires processing-time and event-time timers of the current key, with the broadcast state readable in onTimer", async () => {
    // ann and bob set timers; zed's payments keep the source going while processing time advances.
    const ps: Payment[] = [
      { user: "ann", amount: 120, t: 1000 },
      { user: "bob", amount: 45, t: 1100 },
      ...Array.from({ length: 8 }, (_, i) => ({ user: "zed", amount: 0, t: 1200 + i * 100 })),
    ];
    const side = new OutputTag<string>("timers");
    const r = await runLocally(
      (env) => {
        const ruleStream = env.fromCollection(rules).broadcast(rulesDesc);
        const main = env
          .fromSource(
            new CollectionSource(ps),
            WatermarkStrategy.forMonotonousTimestamps<Payment>().withTimestampAssigner((p) => p.t),
            "payments",
          )
          .keyBy((p) => p.user)
          .connect(ruleStream)
          .process({
            processElement(p: Payment, ctx: KeyedBroadcastReadOnlyContext<string>) {
              if (p.user === "zed") return;
              const now = ctx.timerService().currentProcessingTime();
              ctx.timerService().registerProcessingTimeTimer(now + 500);
              ctx.timerService().registerEventTimeTimer(p.t + 50);
            },
            processBroadcastElement(rule: Rule, ctx: BroadcastContext) {
              ctx.getBroadcastState(rulesDesc).put(rule.name, rule);
            },
            onTimer(ts: number, ctx: KeyedBroadcastOnTimerContext<string>, out: Collector<string>) {
              const names = ctx.getBroadcastState(rulesDesc).keys().sort().join("+");
              out.collect(`${ctx.getCurrentKey()}@${ts}:${ctx.timeDomain}:${names}`);
              ctx.output(side, `side ${ctx.getCurrentKey()} ${ctx.timeDomain}`);
            },
          });
        return main.union(main.getSideOutput(side));
      },
      // One element per source and round; the clock moves 200 ms per round. The rules come first
      // (declared first), and the join's watermark waits for the rule stream to end.
      { pollBatch: 1, clockStepPerPoll: 200, startTime: 10_000 },
    );
    const tsOf = new Map(r.records.map((x, i) => [x, r.timestamps[i]]));
    expect(sorted(r.records)).toEqual(
      sorted([
        "ann@10500:PROCESSING_TIME:large+medium",
        "bob@10700:PROCESSING_TIME:large+medium",
        "ann@1050:EVENT_TIME:large+medium",
        "bob@1150:EVENT_TIME:large+medium",
        "side ann PROCESSING_TIME",
        "side bob PROCESSING_TIME",
        "side ann EVENT_TIME",
        "side bob EVENT_TIME",
      ]),
    );
    expect(tsOf.get("ann@10500:PROCESSING_TIME:large+medium")).toBeUndefined();
    expect(tsOf.get("ann@1050:EVENT_TIME:large+medium")).toBe(1050);
    expect(tsOf.get("bob@1150:EVENT_TIME:large+medium")).toBe(1150);
  });

  it("refuses writes to broadcast state from processElement and onTimer, and unknown descriptors", async () => {
    const build = (where: "element" | "timer" | "unknown") =>
      runLocally(
        (env) =>
          env
            .fromSource(
              new CollectionSource([{ user: "ann", amount: 1, t: 5 }]),
              WatermarkStrategy.forMonotonousTimestamps<Payment>().withTimestampAssigner((p) => p.t),
              "payments",
            )
            .keyBy((p) => p.user)
            .connect(env.fromElements(rules[0]!).broadcast(rulesDesc))
            .process({
              processElement(_p: Payment, ctx: KeyedBroadcastReadOnlyContext<string>) {
                if (where === "element") (ctx.getBroadcastState(rulesDesc) as unknown as BroadcastState<string, Rule>).put("x", { name: "x", min: 0 });
                if (where === "unknown") ctx.getBroadcastState(new MapStateDescriptor<string, Rule>("other"));
                ctx.timerService().registerEventTimeTimer(10);
              },
              processBroadcastElement(rule: Rule, ctx: BroadcastContext) {
                ctx.getBroadcastState(rulesDesc).put(rule.name, rule);
              },
              onTimer(_ts: number, ctx: KeyedBroadcastOnTimerContext<string>) {
                if (where === "timer") (ctx.getBroadcastState(rulesDesc) as unknown as BroadcastState<string, Rule>).remove("large");
              },
            }),
        { pollBatch: 1000 },
      );
    await expect(build("element")).rejects.toThrow(/broadcast state 'rules' is read-only in processElement and onTimer/);
    await expect(build("timer")).rejects.toThrow(/broadcast state 'rules' is read-only/);
    await expect(build("unknown")).rejects.toThrow(/broadcast state 'other' does not exist: pass its descriptor to stream.broadcast/);
  });

  it("refuses malformed jobs when they are built", async () => {
    await expect(
      runLocally((env) => {
        const dup = env.fromElements(1).broadcast(rulesDesc, new MapStateDescriptor<string, Rule>("rules"));
        return env
          .fromElements(2)
          .connect(dup)
          .process({ processElement() {}, processBroadcastElement() {} });
      }),
    ).rejects.toThrow(/two descriptors are named 'rules'/);
    await expect(
      runLocally((env) =>
        env
          .fromElements(2)
          .connect(env.fromElements(1).broadcast(rulesDesc))
          .process({ processElement() {} } as never),
      ),
    ).rejects.toThrow(/processBroadcastElement\(\) method/);
  });
});

describe("broadcast state pattern (non-keyed)", () => {
  it("a BroadcastProcessFunction reads the rules broadcast before the data", async () => {
    const ps = payments(3, 150);
    const r = await runLocally(
      (env) => {
        const ruleStream = env.fromCollection(rules).broadcast(rulesDesc);
        return env
          .fromSource(
            new CollectionSource(ps),
            WatermarkStrategy.forMonotonousTimestamps<Payment>().withTimestampAssigner((p) => p.t),
            "payments",
          )
          .connect(ruleStream)
          .process({
            processElement(p: Payment, ctx: BroadcastReadOnlyContext, out: Collector<string>) {
              expect(ctx.timestamp).toBe(p.t);
              expect(ctx.currentProcessingTime()).toBe(0);
              for (const [name, rule] of ctx.getBroadcastState(rulesDesc).entries()) if (p.amount >= rule.min) out.collect(`${p.user}:${name}:${p.amount}`);
            },
            processBroadcastElement(rule: Rule, ctx: BroadcastContext) {
              const state = ctx.getBroadcastState(rulesDesc);
              state.put(rule.name, rule);
              expect(state.get(rule.name)).toEqual(rule);
              expect(state.contains(rule.name)).toBe(true);
            },
          });
      },
      { pollBatch: 1000 },
    );
    expect(sorted(r.records)).toEqual(sorted(expectedMatches(ps, finalRules)));
    const target = r.graph.vertices.find((v) => v.name.startsWith("Co-Process-Broadcast"))!;
    expect(target.operators[0]!.keyed).toBeUndefined();
  });

  it("the read-only context refuses writes on a non-keyed stream too", async () => {
    await expect(
      runLocally(
        (env) =>
          env
            .fromElements(1)
            .connect(env.fromElements(rules[0]!).broadcast(rulesDesc))
            .process({
              processElement(_n: number, ctx: BroadcastReadOnlyContext) {
                (ctx.getBroadcastState(rulesDesc) as unknown as BroadcastState<string, Rule>).clear();
              },
              processBroadcastElement() {},
            }),
        { pollBatch: 1000 },
      ),
    ).rejects.toThrow(/read-only/);
  });
});

describe("broadcast state checkpoints", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "riffle-broadcast-"));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const otherDesc = new MapStateDescriptor<number, string>("other");
  const fn = {
    processElement(v: { k: string }, ctx: KeyedBroadcastReadOnlyContext<string>, out: Collector<string>) {
      const rs = ctx.getBroadcastState(rulesDesc);
      out.collect(`${v.k}:${rs.keys().sort().join("+")}:${ctx.getBroadcastState(otherDesc).size()}`);
      ctx.timerService().registerEventTimeTimer(100);
    },
    processBroadcastElement(rule: Rule, ctx: BroadcastContext) {
      ctx.getBroadcastState(rulesDesc).put(rule.name, rule);
      ctx.getBroadcastState(otherDesc).put(rule.min, rule.name);
    },
    onTimer(ts: number, ctx: KeyedBroadcastOnTimerContext<string>, out: Collector<string>) {
      out.collect(`timer ${ctx.getCurrentKey()}@${ts}`);
    },
  };

  it("every subtask restores the full broadcast state at a higher and at a lower parallelism; keyed timers move with their keys", async () => {
    const dir = join(root, "rescale");
    const keys = ["a", "b", "c", "d", "e", "f"];
    // Two old subtasks, each with every broadcast element and its own keys.
    const old: OperatorHarness[] = [];
    for (let i = 0; i < 2; i++)
      old.push(
        await OperatorHarness.open(new KeyedBroadcastProcessOperator(fn, (v: { k: string }) => v.k, [rulesDesc, otherDesc]), {
          subtaskIndex: i,
          parallelism: 2,
        }),
      );
    for (const h of old) for (const rule of rules) h.operator.processElement2(rule, undefined);
    for (const k of keys) {
      const h = old.find((x) => owns(x, k))!;
      h.operator.processElement({ k }, 1);
    }
    const handles = [];
    for (const h of old) handles.push(await h.snapshot(1, dir));
    for (const h of old) await h.close();
    const restore = { dir, keyed: handles.map((h) => h.keyed), operator: handles.map((h) => h.operator) };

    for (const parallelism of [3, 1]) {
      const now: OperatorHarness[] = [];
      for (let i = 0; i < parallelism; i++) {
        now.push(
          await OperatorHarness.open(new KeyedBroadcastProcessOperator(fn, (v: { k: string }) => v.k, [rulesDesc, otherDesc]), {
            subtaskIndex: i,
            parallelism,
            restore,
          }),
        );
      }
      for (const k of keys) now.find((x) => owns(x, k))!.operator.processElement({ k }, 2);
      // Every subtask holds the full (deduplicated) broadcast state: large and medium; 100, 50 and 40.
      expect(sorted(now.flatMap((h) => h.values()))).toEqual(sorted(keys.map((k) => `${k}:large+medium:3`)));
      for (const h of now) h.operator.processWatermark(100);
      const timers = now.flatMap((h) => h.values().filter((v) => String(v).startsWith("timer")));
      expect(sorted(timers)).toEqual(sorted(keys.map((k) => `timer ${k}@100`)));
      for (const h of now) await h.close();
    }
  });

  it("a non-keyed broadcast operator restores its broadcast state", async () => {
    const dir = join(root, "non-keyed");
    const nonKeyed = {
      processElement(v: string, ctx: BroadcastReadOnlyContext, out: Collector<string>) {
        out.collect(`${v}:${JSON.stringify(ctx.getBroadcastState(rulesDesc).entries())}`);
      },
      processBroadcastElement(rule: Rule, ctx: BroadcastContext) {
        if (rule.min < 0) ctx.getBroadcastState(rulesDesc).remove(rule.name);
        else ctx.getBroadcastState(rulesDesc).put(rule.name, rule);
      },
    };
    const h = await OperatorHarness.open(new BroadcastProcessOperator(nonKeyed, [rulesDesc]));
    for (const rule of [...rules, { name: "large", min: -1 }]) h.operator.processElement2(rule, undefined);
    const handles = await h.snapshot(7, dir);
    h.operator.processElement2({ name: "after-checkpoint", min: 1 }, undefined);
    await h.close();
    const restored = await OperatorHarness.open(new BroadcastProcessOperator(nonKeyed, [rulesDesc]), {
      subtaskIndex: 1,
      parallelism: 2,
      restore: { dir, keyed: [handles.keyed], operator: [handles.operator] },
    });
    restored.operator.processElement("x", undefined);
    expect(restored.values()).toEqual([`x:${JSON.stringify([["medium", { name: "medium", min: 40 }]])}`]);
    await restored.close();
  });
});

/** Whether the harness's subtask owns key `k` (its key group is in the subtask's range). */
function owns(h: OperatorHarness, k: string): boolean {
  try {
    h.keyed.setCurrentKey(k);
    return true;
  } catch {
    return false;
  }
}
