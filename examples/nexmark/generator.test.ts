import type { ReaderOutput, RuntimeContext } from "@riffle/sdk";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_BASE_TIME,
  FIRST_AUCTION_ID,
  FIRST_PERSON_ID,
  generateEvents,
  lastBase0AuctionId,
  lastBase0PersonId,
  NexmarkGenerator,
  nexmarkConfig,
} from "./generator.js";
import { AUCTION, type Auction, BID, type Bid, type Event, eventTime, PERSON, type Person } from "./model.js";
import { NexmarkSource } from "./source.js";

const persons = (events: Event[]): Person[] => events.flatMap((e) => (e.type === PERSON ? [e.person] : []));
const auctions = (events: Event[]): Auction[] => events.flatMap((e) => (e.type === AUCTION ? [e.auction] : []));
const bids = (events: Event[]): Bid[] => events.flatMap((e) => (e.type === BID ? [e.bid] : []));

describe("Nexmark generator", () => {
  it("is deterministic: the same config gives the same events", () => {
    const config = { seed: 42, eventsPerSecond: 1000, outOfOrdernessMs: 20 };
    expect(generateEvents(config, 0, 5000)).toEqual(generateEvents(config, 0, 5000));
    expect(generateEvents({ ...config, seed: 43 }, 0, 5000)).not.toEqual(generateEvents(config, 0, 5000));
  });

  it("generates event n independently of the range and order it is generated in", () => {
    const config = { seed: 7, eventsPerSecond: 2000, outOfOrdernessMs: 100 };
    const all = generateEvents(config, 0, 3000);
    expect(generateEvents(config, 1234, 1400)).toEqual(all.slice(1234, 1400));
    const gen = new NexmarkGenerator(config);
    for (const n of [2999, 0, 1500, 3, 2999, 1, 777]) expect(gen.event(n)).toEqual(all[n]);
    // Interleaved shares (as parallel subtasks generate them) put back together give the whole stream.
    const p = 3;
    const merged: Event[] = [];
    for (let s = 0; s < p; s++) for (let n = s; n < 3000; n += p) merged[n] = new NexmarkGenerator(config).event(n);
    expect(merged).toEqual(all);
  });

  it("keeps Nexmark's proportions: per 50 events 1 person, 3 auctions, 46 bids, in that order", () => {
    const events = generateEvents({}, 0, 50_000);
    expect(persons(events)).toHaveLength(1000);
    expect(auctions(events)).toHaveLength(3000);
    expect(bids(events)).toHaveLength(46_000);
    expect(events.every((e, n) => e.type === (n % 50 === 0 ? PERSON : n % 50 <= 3 ? AUCTION : BID))).toBe(true);
    const custom = generateEvents({ personProportion: 2, auctionProportion: 2, bidProportion: 6 }, 0, 1000);
    expect([persons(custom).length, auctions(custom).length, bids(custom).length]).toEqual([200, 200, 600]);
  });

  it("numbers persons and auctions consecutively from 1000, as Nexmark", () => {
    const events = generateEvents({}, 0, 10_000);
    expect(persons(events).map((p) => p.id)).toEqual(Array.from({ length: 200 }, (_, i) => FIRST_PERSON_ID + i));
    expect(auctions(events).map((a) => a.id)).toEqual(Array.from({ length: 600 }, (_, i) => FIRST_AUCTION_ID + i));
    const c = nexmarkConfig({});
    expect([0, 1, 3, 4, 49, 50, 51].map((id) => lastBase0PersonId(c, id))).toEqual([0, 0, 0, 0, 0, 1, 1]);
    expect([1, 2, 3, 4, 49, 50, 51].map((id) => lastBase0AuctionId(c, id))).toEqual([0, 1, 2, 2, 2, 2, 3]);
    // firstEventId shifts the stream: event n is the event with id firstEventId + n.
    expect(generateEvents({ firstEventId: 2 }, 0, 10).map((e) => e.type)).toEqual([AUCTION, AUCTION, BID, BID, BID, BID, BID, BID, BID, BID]);
  });

  it("points bids and auctions at recent auctions and people, half of the bids at the hot auction", () => {
    const events = generateEvents({ seed: 3 }, 0, 100_000);
    const c = nexmarkConfig({ seed: 3 });
    const bad: string[] = [];
    const check = (ok: boolean, n: number, what: string) => {
      if (!ok && bad.length < 10) bad.push(`event ${n}: ${what}: ${JSON.stringify(events[n])}`);
    };
    let hot = 0;
    let hotBidder = 0;
    events.forEach((e, n) => {
      const lastPerson = lastBase0PersonId(c, n);
      if (e.type === BID) {
        const last = lastBase0AuctionId(c, n);
        const a = e.bid.auction - FIRST_AUCTION_ID;
        check(a >= Math.max(0, last - c.numInFlightAuctions) && a <= last + 10, n, "auction in flight");
        if (a === Math.floor(last / 100) * 100) hot++;
        const bidder = e.bid.bidder - FIRST_PERSON_ID;
        check(bidder >= Math.max(0, lastPerson + 1 - c.numActivePeople) && bidder <= lastPerson + 10, n, "bidder active");
        if (bidder === Math.floor(lastPerson / 100) * 100 + 1) hotBidder++;
        check(Number.isInteger(e.bid.price) && e.bid.price >= 100 && e.bid.price <= 100_000_000, n, "price");
        // avgBidByteSize 100: 32 bytes of numbers plus 54..81 characters of extra.
        check(e.bid.extra.length >= 54 && e.bid.extra.length <= 81, n, "extra");
        check(/^https:\/\/www\.nexmark\.com\/[a-z_]+\/[a-z_]+\/[a-z_]+\/item\.htm\?query=1(&channel_id=-?\d+)?$/.test(e.bid.url), n, "url");
      } else if (e.type === AUCTION) {
        check(e.auction.category >= 10 && e.auction.category < 15, n, "category");
        check(e.auction.expires > e.auction.dateTime, n, "expires");
        check(e.auction.reserve > e.auction.initialBid, n, "reserve");
        check(e.auction.seller - FIRST_PERSON_ID <= lastPerson + 10, n, "seller");
        const size = 48 + e.auction.itemName.length + e.auction.description.length + e.auction.extra.length;
        check(size >= 400 && size <= 600, n, "size");
      } else {
        check(["AZ", "CA", "ID", "OR", "WA", "WY"].includes(e.person.state), n, "state");
        check(/^\d{4} \d{4} \d{4} \d{4}$/.test(e.person.creditCard), n, "credit card");
        check(/^[a-z ]*@[a-z ]*\.com$/.test(e.person.emailAddress), n, "email");
      }
    });
    expect(bad).toEqual([]);
    const numBids = bids(events).length;
    // P(hot) = 1 - 1/hotAuctionRatio (2), plus the odd random pick of the same auction.
    expect(hot / numBids).toBeGreaterThan(0.49);
    expect(hot / numBids).toBeLessThan(0.53);
    expect(hotBidder / numBids).toBeGreaterThan(0.74);
    expect(hotBidder / numBids).toBeLessThan(0.77);
  });

  it("spaces timestamps by the event-time rate", () => {
    const at1k = generateEvents({ eventsPerSecond: 1000 }, 0, 2000);
    expect(at1k.map(eventTime)).toEqual(at1k.map((_, n) => DEFAULT_BASE_TIME + n));
    const at10M = generateEvents({ eventsPerSecond: 10_000_000, baseTime: 5_000 }, 0, 50_000);
    expect(at10M.map(eventTime)).toEqual(at10M.map((_, n) => 5_000 + Math.floor(n / 10_000)));
    const at3 = generateEvents({ eventsPerSecond: 3, baseTime: 0 }, 0, 7);
    expect(at3.map(eventTime)).toEqual([0, 333, 666, 1000, 1333, 1666, 2000]);
    // Auctions last about as long as it takes to open numInFlightAuctions more (×2 on average).
    const longest = Math.max(...auctions(generateEvents({ eventsPerSecond: 1000 }, 0, 50_000)).map((a) => a.expires - a.dateTime));
    expect(longest).toBeGreaterThan(3000);
    expect(longest).toBeLessThanOrEqual(1 + 2 * 1666);
  });

  it("keeps timestamps within the out-of-orderness bound, and actually out of order", () => {
    for (const outOfOrdernessMs of [0, 1, 50, 500]) {
      const gen = new NexmarkGenerator({ eventsPerSecond: 5000, outOfOrdernessMs, seed: outOfOrdernessMs });
      let max = Number.NEGATIVE_INFINITY;
      let behind = 0;
      let maxBehind = 0;
      let bad = 0;
      for (let n = 0; n < 20_000; n++) {
        const t = eventTime(gen.event(n));
        if (t !== gen.timestamp(n) || t > gen.baseTimestamp(n) || t < gen.baseTimestamp(n) - outOfOrdernessMs) bad++;
        if (t < max) behind++;
        maxBehind = Math.max(maxBehind, max - t);
        max = Math.max(max, t);
      }
      expect(bad).toBe(0);
      expect(maxBehind).toBeLessThanOrEqual(outOfOrdernessMs);
      if (outOfOrdernessMs === 0) expect(behind).toBe(0);
      else expect(behind).toBeGreaterThan(1000);
      if (outOfOrdernessMs >= 50) expect(maxBehind).toBeGreaterThan(outOfOrdernessMs * 0.9);
    }
    // The jitter moves timestamps only: the events are otherwise the same.
    const strip = (e: Event) => JSON.stringify(e).replace(/"(dateTime|expires)":\d+/g, "");
    expect(generateEvents({ outOfOrdernessMs: 300 }, 0, 500).map(strip)).toEqual(generateEvents({}, 0, 500).map(strip));
  });

  it("rejects bad configurations", () => {
    expect(() => new NexmarkGenerator({ eventsPerSecond: 0 })).toThrow(/eventsPerSecond/);
    expect(() => new NexmarkGenerator({ outOfOrdernessMs: -1 })).toThrow(/outOfOrdernessMs/);
    expect(() => new NexmarkGenerator({ hotAuctionRatio: 0 })).toThrow(/hotAuctionRatio/);
    expect(() => new NexmarkGenerator({ maxEvents: 1.5 })).toThrow(/maxEvents/);
    expect(generateEvents({ maxEvents: 10 }, 5, 100)).toHaveLength(5);
  });
});

// --- The source --------------------------------------------------------------------------------------

function context(subtaskIndex: number, parallelism: number): RuntimeContext {
  return { jobId: "j", jobName: "nexmark", taskName: "source", subtaskIndex, parallelism, maxParallelism: 128, args: [] } as unknown as RuntimeContext;
}

function recorder(into: Array<{ event: Event; timestamp: number | undefined }>): ReaderOutput<Event> {
  const output: ReaderOutput<Event> = {
    collect: (event, timestamp) => void into.push({ event, timestamp }),
    collectWithTimestamp: (event, timestamp) => void into.push({ event, timestamp }),
    emitWatermark: () => {},
    markIdle: () => {},
    markActive: () => {},
    createOutputForSplit: () => output,
    releaseOutputForSplit: () => {},
    output: () => {},
  };
  return output;
}

describe("NexmarkSource", () => {
  const config = { seed: 5, eventsPerSecond: 1000, outOfOrdernessMs: 30, maxEvents: 1000 };

  it("splits the stream over subtasks by event number, with event timestamps", () => {
    const source = new NexmarkSource(config);
    expect(source.boundedness).toBe("bounded");
    expect(new NexmarkSource({}).boundedness).toBe("unbounded");
    const got: Array<{ event: Event; timestamp: number | undefined }> = [];
    for (let s = 0; s < 3; s++) {
      const reader = source.createReader(context(s, 3));
      reader.start?.();
      const mine: Array<{ event: Event; timestamp: number | undefined }> = [];
      while (reader.pollNext(recorder(mine), 64) === "MORE_AVAILABLE");
      mine.forEach((r, k) => expect(r.event).toEqual(new NexmarkGenerator(config).event(s + 3 * k)));
      got.push(...mine);
    }
    for (const r of got) expect(r.timestamp).toBe(eventTime(r.event));
    expect(new Set(got.map((r) => JSON.stringify(r.event)))).toEqual(new Set(generateEvents(config, 0, 1000).map((e) => JSON.stringify(e))));
    expect(got).toHaveLength(1000);
  });

  it("restores from its checkpointed positions at another parallelism, emitting every event once", () => {
    const source = new NexmarkSource(config);
    const emitted: number[] = [];
    const index = new Map(generateEvents(config, 0, 1000).map((e, n) => [JSON.stringify(e), n]));
    const run = (parallelism: number, restored: unknown[] | undefined, polls: number[]): unknown[] => {
      const state: unknown[] = [];
      for (let s = 0; s < parallelism; s++) {
        const reader = source.createReader(context(s, parallelism), restored);
        reader.start?.();
        const out: Array<{ event: Event; timestamp: number | undefined }> = [];
        for (let k = 0; k < polls[s % polls.length]!; k++) reader.pollNext(recorder(out), 17);
        for (const r of out) emitted.push(index.get(JSON.stringify(r.event))!);
        state.push(...(reader.snapshotState?.(1) ?? []));
      }
      return state;
    };
    // p=2 stops unevenly, p=3 goes on from there and stops unevenly, p=2 again runs to the end.
    const s1 = run(2, undefined, [5, 9]);
    const s2 = run(3, s1, [3, 12, 1]);
    run(2, s2, [1000]);
    expect(emitted.sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, n) => n));
  });

  it("rate-limits in wall-clock time when asked", async () => {
    const source = new NexmarkSource({ ...config, ratePerSecond: 1000 });
    const reader = source.createReader(context(0, 1));
    reader.start?.();
    const out: Array<{ event: Event; timestamp: number | undefined }> = [];
    const started = performance.now();
    while (out.length < 100) {
      if (reader.pollNext(recorder(out), 1000) === "NOTHING_AVAILABLE") await reader.isAvailable();
    }
    expect(performance.now() - started).toBeGreaterThanOrEqual(90);
  });
});
