import { describe, expect, it } from "vitest";
import { CollectionSource, type DataStream, type StreamExecutionEnvironment, WatermarkStrategy } from "@riffle/sdk";
import { planJob } from "@riffle/sdk/internal";
import { runLocally } from "../../taskmanager/src/testing/index.js";
import { generateEvents, type NexmarkConfig } from "./generator.js";
import * as job from "./job.js";
import { AUCTION, type Auction, BID, type Bid, type Event, eventTime, PERSON, type Person } from "./model.js";
import * as reference from "./reference.js";
import { nexmarkEvents, q0, q1, q2, q3, q4, q5, q7, q8, QUERIES } from "./queries/index.js";

type Query<R> = (events: DataStream<Event>, env: StreamExecutionEnvironment) => DataStream<R>;

/**
 * 250 events per second of event time: 30k events span 120 s, a dozen tumbling windows and 60 sliding
 * ones. With out-of-orderness, timestamps are up to 2 s lower (500 events) and the watermark trails by
 * as much.
 */
const IN_ORDER: Partial<NexmarkConfig> = { seed: 11, eventsPerSecond: 250 };
const OUT_OF_ORDER: Partial<NexmarkConfig> = { seed: 12, eventsPerSecond: 250, outOfOrdernessMs: 2000 };
const EVENTS = 30_000;

/**
 * Runs `query` in-process over the first EVENTS events of `config`, from the Nexmark source polled 100
 * events at a time with 50 ms of processing time per poll: a periodic watermark every 400 events.
 */
async function run<R>(query: Query<R>, config: Partial<NexmarkConfig>): Promise<R[]> {
  const r = await runLocally((env) => query(nexmarkEvents(env, { ...config, maxEvents: EVENTS }), env), { pollBatch: 100, clockStepPerPoll: 50 });
  return r.records;
}

/**
 * Runs `query` over hand-made `events`, which arrive in the array's order, with a watermark after
 * every event trailing the largest timestamp by `boundMs`.
 */
async function runOn<R>(query: Query<R>, events: Event[], boundMs: number): Promise<R[]> {
  const strategy = WatermarkStrategy.forBoundedOutOfOrderness<Event>(boundMs).withTimestampAssigner(eventTime);
  const r = await runLocally((env) => query(env.fromSource(new CollectionSource(events), strategy, "events"), env), { pollBatch: 1, clockStepPerPoll: 200 });
  return r.records;
}

function bid(auction: number, price: number, dateTime: number): Event {
  const b: Bid = { auction, bidder: 1, price, channel: "Google", url: "u", dateTime, extra: "" };
  return { type: BID, bid: b };
}
function person(id: number, dateTime: number, name = `p${id}`): Event {
  const p: Person = { id, name, emailAddress: "e", creditCard: "c", city: "Boise", state: "ID", dateTime, extra: "" };
  return { type: PERSON, person: p };
}
function auction(id: number, seller: number, dateTime: number): Event {
  const a: Auction = { id, itemName: "i", description: "d", initialBid: 1, reserve: 2, dateTime, expires: dateTime + 1000, seller, category: 10, extra: "" };
  return { type: AUCTION, auction: a };
}

/** reference.q5's sort order. */
const Q5_ORDER = ["windowStart", "auction", "num", "windowEnd"] as const;

/** The same events as an array, for the reference. */
const input = (config: Partial<NexmarkConfig>): Event[] => generateEvents(config, 0, EVENTS);

describe("Nexmark queries on the DataStream API equal the reference", () => {
  it("q0: pass-through", async () => {
    expect(reference.sortRows(await run(q0, IN_ORDER))).toEqual(reference.q0(input(IN_ORDER)));
  });

  it("q1: currency conversion", async () => {
    expect(reference.sortRows(await run(q1, IN_ORDER))).toEqual(reference.q1(input(IN_ORDER)));
  });

  it("q2: selection", async () => {
    const expected = reference.q2(input(IN_ORDER));
    expect(expected.length).toBeGreaterThan(10);
    expect(reference.sortRows(await run(q2, IN_ORDER))).toEqual(expected);
  });

  it.each([
    ["in order", IN_ORDER],
    ["out of order", OUT_OF_ORDER],
  ])("q3: incremental join, %s", async (_, config) => {
    const expected = reference.q3(input(config));
    expect(expected.length).toBeGreaterThan(10);
    expect(reference.sortRows(await run(q3, config))).toEqual(expected);
  });

  it.each([
    ["in order", IN_ORDER],
    ["out of order", OUT_OF_ORDER],
  ])("q4: the last average per category is the final one, %s", async (_, config) => {
    const rows = await run(q4, config);
    const last = new Map<number, reference.Q4Row>();
    for (const row of rows) last.set(row.category, row);
    const expected = reference.q4(input(config));
    expect(expected.length).toBe(5);
    expect(reference.sortRows([...last.values()])).toEqual(expected);
  });

  it.each([
    ["in order", IN_ORDER],
    ["out of order", OUT_OF_ORDER],
  ])("q5: hot items per sliding window, %s", async (_, config) => {
    const expected = reference.q5(input(config));
    expect(new Set(expected.map((r) => r.windowStart)).size).toBeGreaterThan(50);
    expect(reference.sortRows(await run(q5, config), Q5_ORDER)).toEqual(expected);
  });

  it.each([
    ["in order", IN_ORDER],
    ["out of order", OUT_OF_ORDER],
  ])("q7: highest bids per tumbling window, %s", async (_, config) => {
    const expected = reference.q7(input(config));
    expect(new Set(expected.map((r) => Math.floor(r.dateTime / 10_000))).size).toBeGreaterThanOrEqual(12);
    expect(reference.sortRows(await run(q7, config))).toEqual(expected);
  });

  it.each([
    ["in order", IN_ORDER],
    ["out of order", OUT_OF_ORDER],
  ])("q8: new sellers per tumbling window, %s", async (_, config) => {
    const expected = reference.q8(input(config));
    expect(expected.length).toBeGreaterThan(10);
    expect(reference.sortRows(await run(q8, config))).toEqual(expected);
  });

  it("q5: ties all come out", async () => {
    const events = [bid(1, 1, 0), bid(2, 1, 1), bid(1, 1, 500), bid(3, 1, 900), bid(2, 1, 1000), bid(3, 1, 2500), bid(3, 1, 10_500)];
    const expected = reference.q5(events);
    expect(expected.filter((r) => r.windowStart === 0)).toEqual([
      { auction: 1, num: 2, windowStart: 0, windowEnd: 10_000 },
      { auction: 2, num: 2, windowStart: 0, windowEnd: 10_000 },
      { auction: 3, num: 2, windowStart: 0, windowEnd: 10_000 },
    ]);
    expect(reference.sortRows(await runOn(q5, events, 0), Q5_ORDER)).toEqual(expected);
  });

  it("q7: a bid at exactly a window's end comes out for the ending window too when it has its max price", async () => {
    const events = [
      bid(1, 5, 100),
      bid(2, 9, 200),
      bid(3, 9, 9_999),
      person(1, 10_000), // the watermark reaches 9 999: window [0, 10 s) fires
      bid(4, 9, 10_000), // after its ending window's max: matches it; also the max of [10 s, 20 s)
      bid(5, 3, 15_000),
      bid(6, 9, 20_000), // before its ending window's max (9, from bid 4): matches it when it comes
      bid(7, 1, 30_000), // not the ending window's max
      bid(8, 4, 40_000), // the ending window [30 s, 40 s) is bid 7's: no match
    ];
    const expected = reference.q7(events);
    expect(expected).not.toEqual(reference.q7(events, { inclusiveEnd: false }));
    expect(reference.sortRows(await runOn(q7, events, 0))).toEqual(expected);
    // The same events in another order: edge bids before the max of the window they end.
    const shuffled = [events[3]!, events[4]!, events[0]!, events[2]!, events[1]!, events[6]!, events[5]!, events[8]!, events[7]!];
    expect(reference.sortRows(await runOn(q7, shuffled, 20_000))).toEqual(expected);
  });

  it("q8: a person comes out once per window however many auctions they opened in it", async () => {
    const events = [
      person(1, 1_000),
      auction(1, 1, 9_999),
      auction(2, 1, 5_000),
      person(2, 9_000),
      auction(3, 2, 10_000), // the next window: no row for person 2
      auction(4, 3, 21_000), // before its seller, same window
      person(3, 29_999),
    ];
    const expected = reference.q8(events);
    expect(expected.map((r) => r.id)).toEqual([1, 3]);
    expect(reference.sortRows(await runOn(q8, events, 0))).toEqual(expected);
  });
});

describe("job.ts", () => {
  const plan = (args: string[]) =>
    planJob(job, args, { name: "nexmark", parallelism: 4, defaultParallelism: 1, defaultMaxParallelism: 128, defaultBufferTimeoutMs: 0 });

  it.each(Object.keys(QUERIES))("plans %s with every sink", async (query) => {
    for (const sink of ["discard", "print", "collect"]) {
      const graph = await plan(["--query", query, "--events", "1000", "--sink", sink]);
      expect(graph.vertices[0]!.operators[0]!.kind).toBe("source");
      expect(graph.checkpointing).toBeUndefined();
    }
  });

  it("takes the checkpoint interval and the state backend", async () => {
    const graph = await plan(["--query", "q4", "--checkpoint-interval", "30000", "--backend", "leveldb", "--out-of-orderness", "100"]);
    expect(graph.checkpointing?.intervalMs).toBe(30_000);
    expect(graph.stateBackend).toBe("leveldb");
  });

  it("refuses unknown queries, sinks and bad numbers", async () => {
    await expect(plan(["--query", "q6"])).rejects.toThrow(/unknown --query q6: use one of q0, q1/);
    await expect(plan(["--sink", "kafka"])).rejects.toThrow(/unknown --sink kafka/);
    await expect(plan(["--events", "1e3x"])).rejects.toThrow(/--events must be an integer >= 0/);
    await expect(plan(["--backend", "rocksdb"])).rejects.toThrow(/unknown state backend "rocksdb"/);
  });
});
