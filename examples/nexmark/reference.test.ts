import { describe, expect, it } from "vitest";
import { type FusedOptions, fusedQ0, fusedQ1, fusedQ2, fusedQ5, fusedQ7, FUSED_QUERIES } from "./fused.js";
import { generateEvents, type NexmarkConfig } from "./generator.js";
import { AUCTION, type Auction, BID, type Bid, type Event, eventTime, PERSON, type Person } from "./model.js";
import { type BidRow, q0, q1, q2, q3, q4, q5, q7, q8, type Q5Row, sortRows } from "./reference.js";

// --- Hand-made events --------------------------------------------------------------------------------

function bid(auction: number, price: number, dateTime: number, bidder = 1): Event {
  const b: Bid = { auction, bidder, price, channel: "Google", url: "u", dateTime, extra: "" };
  return { type: BID, bid: b };
}
function person(id: number, state: string, dateTime: number, name = `p${id}`): Event {
  const p: Person = { id, name, emailAddress: "e", creditCard: "c", city: `city${id}`, state, dateTime, extra: "" };
  return { type: PERSON, person: p };
}
function auction(id: number, seller: number, category: number, dateTime: number, expires = dateTime + 1000): Event {
  const a: Auction = { id, itemName: "i", description: "d", initialBid: 1, reserve: 2, dateTime, expires, seller, category, extra: "" };
  return { type: AUCTION, auction: a };
}
const row = (auction: number, price: number, dateTime: number, bidder = 1): BidRow => ({ auction, bidder, price, dateTime, extra: "" });

describe("Nexmark reference queries", () => {
  it("q0, q1, q2: bids projected, priced in euros, filtered on auction % 123", () => {
    const events = [person(1, "OR", 0), bid(246, 1000, 5), auction(7, 1, 10, 6), bid(100, 3, 1)];
    expect(q0(events)).toEqual([row(100, 3, 1), row(246, 1000, 5)]);
    expect(q1(events)).toEqual([row(100, 2.724, 1), row(246, 908, 5)]);
    expect(q2(events)).toEqual([{ auction: 246, price: 1000 }]);
  });

  it("q3: joins sellers in OR, ID, CA with their category-10 auctions, whichever comes first", () => {
    const events = [
      auction(1, 10, 10, 0), // before its seller
      person(10, "OR", 1),
      person(11, "WA", 2),
      auction(2, 11, 10, 3), // seller in WA
      auction(3, 10, 11, 4), // category 11
      person(12, "CA", 5),
      auction(4, 12, 10, 6),
      auction(5, 10, 10, 7),
    ];
    expect(q3(events)).toEqual([
      { name: "p10", city: "city10", state: "OR", id: 1 },
      { name: "p10", city: "city10", state: "OR", id: 5 },
      { name: "p12", city: "city12", state: "CA", id: 4 },
    ]);
  });

  it("q4: averages per category the highest bid within each auction's lifetime (both ends included)", () => {
    const events = [
      auction(1, 1, 10, 1000, 2000),
      bid(1, 500, 999), // before it opened
      bid(1, 5, 1000),
      bid(1, 9, 2000),
      bid(1, 100, 2001), // after it expired
      bid(2, 4, 10), // before auction 2's event: order does not matter
      auction(2, 1, 10, 0, 50),
      auction(3, 1, 11, 0, 50), // no bids: not averaged
      auction(4, 1, 12, 0, 50),
      bid(4, 7, 20),
    ];
    expect(q4(events)).toEqual([
      { category: 10, avg: 6, sum: 13, count: 2 },
      { category: 12, avg: 7, sum: 7, count: 1 },
    ]);
  });

  it("q5: per 10 s window sliding by 2 s, the auctions with the most bids, ties included", () => {
    const events = [bid(1, 1, 0), bid(1, 1, 1), bid(2, 1, 2), bid(2, 1, 9_999), bid(3, 1, 10_000), bid(3, 1, 10_001), bid(3, 1, 12_000)];
    const w = (start: number, auction: number, num: number): Q5Row => ({ auction, num, windowStart: start, windowEnd: start + 10_000 });
    expect(q5(events)).toEqual(
      sortRows(
        [
          // Windows starting at -8 s .. -2 s hold the bids at 0..2 ms only.
          ...[-8000, -6000, -4000, -2000].map((s) => w(s, 1, 2)),
          w(0, 1, 2),
          w(0, 2, 2),
          w(2000, 3, 2), // auction 2 has 1 bid here: not the max
          w(4000, 3, 3),
          w(6000, 3, 3),
          w(8000, 3, 3),
          w(10_000, 3, 3),
          w(12_000, 3, 1),
        ],
        ["windowStart", "auction", "num", "windowEnd"],
      ),
    );
  });

  it("q7: per tumbling 10 s window the bids at its max price; BETWEEN also takes a bid at exactly window_end", () => {
    const events = [bid(1, 50, 100), bid(2, 50, 9_999), bid(3, 10, 5_000), bid(4, 50, 10_000), bid(5, 70, 15_000), bid(6, 5, 25_000)];
    expect(q7(events)).toEqual([row(1, 50, 100), row(2, 50, 9_999), row(4, 50, 10_000), row(5, 70, 15_000), row(6, 5, 25_000)]);
    // Now the last window's max is 50, and the bid at 20 s is not the 70 of the window before.
    expect(q7([...events, bid(7, 50, 20_000)])).toEqual([row(1, 50, 100), row(2, 50, 9_999), row(4, 50, 10_000), row(5, 70, 15_000), row(7, 50, 20_000)]);
    // A bid at window_end that is also its own window's max comes out for both windows.
    expect(q7([bid(1, 50, 100), bid(4, 50, 10_000)])).toEqual([row(1, 50, 100), row(4, 50, 10_000), row(4, 50, 10_000)]);
    expect(q7([bid(1, 50, 100), bid(4, 50, 10_000)], { inclusiveEnd: false })).toEqual([row(1, 50, 100), row(4, 50, 10_000)]);
  });

  it("q8: persons who opened an auction in the tumbling 10 s window they registered in, once per window", () => {
    const events = [
      person(1, "OR", 1_000),
      auction(1, 1, 10, 9_999),
      auction(2, 1, 10, 5_000), // same window again: one row
      person(2, "OR", 9_000),
      auction(3, 2, 10, 10_000), // the next window
      auction(4, 3, 10, 21_000), // before its seller, same window
      person(3, "CA", 29_999, "late"),
    ];
    expect(q8(events)).toEqual([
      { id: 1, name: "p1", starttime: 0 },
      { id: 3, name: "late", starttime: 20_000 },
    ]);
  });

  it("finds results on generated data", () => {
    const events = generateEvents({ eventsPerSecond: 1000 }, 0, 50_000);
    for (const [name, rows] of Object.entries({ q2: q2(events), q3: q3(events), q4: q4(events), q5: q5(events), q7: q7(events), q8: q8(events) }))
      expect(rows.length, name).toBeGreaterThan(0);
    expect(q4(events).map((r) => r.category)).toEqual([10, 11, 12, 13, 14]);
  });
});

// --- Fused loops against the reference --------------------------------------------------------------

type Fused<R> = (config: Partial<NexmarkConfig>, events: number, options?: FusedOptions<R>) => { events: number; outputs: number; late: number };

function runFused<R extends object>(fn: Fused<R>, config: Partial<NexmarkConfig>, events: number, options: FusedOptions<R> = {}) {
  const rows: R[] = [];
  const at: number[] = [];
  const result = fn(config, events, {
    ...options,
    sink: (r, n) => {
      rows.push(r);
      at.push(n);
    },
  });
  expect(result.events).toBe(events);
  expect(result.outputs).toBe(rows.length);
  return { rows, at, late: result.late };
}

describe("Nexmark fused loops", () => {
  const N = 20_000;
  const configs: Array<Partial<NexmarkConfig>> = [
    { eventsPerSecond: 1000 },
    { eventsPerSecond: 1000, outOfOrdernessMs: 700, seed: 1 },
    { eventsPerSecond: 3000, outOfOrdernessMs: 2500, seed: 2 },
    { eventsPerSecond: 500, outOfOrdernessMs: 1, seed: 3, baseTime: 1_234_567 },
    { eventsPerSecond: 10_000_000, seed: 4 },
  ];

  for (const config of configs) {
    it(`equal the reference queries (${JSON.stringify(config)})`, () => {
      const events = generateEvents(config, 0, N);
      expect(sortRows(runFused(fusedQ0, config, N).rows)).toEqual(q0(events));
      expect(sortRows(runFused(fusedQ1, config, N).rows)).toEqual(q1(events));
      expect(sortRows(runFused(fusedQ2, config, N).rows)).toEqual(q2(events));
      const f5 = runFused(fusedQ5, config, N);
      expect(f5.late).toBe(0);
      expect(sortRows(f5.rows, ["windowStart", "auction", "num", "windowEnd"])).toEqual(q5(events));
      const f7 = runFused(fusedQ7, config, N);
      expect(f7.late).toBe(0);
      expect(sortRows(f7.rows)).toEqual(q7(events));
      expect(sortRows(runFused(fusedQ7, config, N, { inclusiveEnd: false } as FusedOptions<BidRow>).rows)).toEqual(q7(events, { inclusiveEnd: false }));
    });
  }

  it("fire q5's and q7's windows as the watermark passes them, not at the end", () => {
    const config = { eventsPerSecond: 1000, outOfOrdernessMs: 700, seed: 1 };
    const events = generateEvents(config, 0, N);
    // The watermark after event n: max timestamp so far - delay - 1.
    const watermark: number[] = [];
    let max = Number.NEGATIVE_INFINITY;
    for (const e of events) watermark.push((max = Math.max(max, eventTime(e))) - 700 - 1);
    const f5 = runFused(fusedQ5, config, N);
    const windows = new Set(f5.rows.map((r) => r.windowEnd));
    expect(windows.size).toBeGreaterThan(8);
    f5.rows.forEach((r, k) => {
      const n = f5.at[k]!;
      if (n === N) {
        // Fired by the end of input: the watermark never reached it.
        expect(watermark[N - 1]!).toBeLessThan(r.windowEnd - 1);
      } else {
        // Fired by event n, the first to move the watermark to its end - 1.
        expect(watermark[n]!).toBeGreaterThanOrEqual(r.windowEnd - 1);
        expect(n === 0 || watermark[n - 1]! < r.windowEnd - 1).toBe(true);
      }
    });
    expect(f5.at.filter((n) => n < N).length).toBeGreaterThan(f5.rows.length / 2);
    const f7 = runFused(fusedQ7, config, N);
    expect(f7.at.filter((n) => n < N).length).toBeGreaterThan(0);
    f7.rows.forEach((r, k) => {
      const n = f7.at[k]!;
      if (n < N) expect(watermark[n]!).toBeGreaterThanOrEqual(r.dateTime);
    });
  });

  it("drop records behind the watermark when it trails by less than the out-of-orderness", () => {
    const config = { eventsPerSecond: 1000, outOfOrdernessMs: 700, seed: 1 };
    const f5 = runFused(fusedQ5, config, N, { watermarkDelayMs: 0 });
    expect(f5.late).toBeGreaterThan(0);
    const f7 = runFused(fusedQ7, config, N, { watermarkDelayMs: 0 });
    expect(f7.late).toBeGreaterThan(0);
  });

  it("report a rate for benchmarks", () => {
    for (const [name, fn] of Object.entries(FUSED_QUERIES)) {
      const r = fn({}, 10_000);
      expect(r.events, name).toBe(10_000);
      expect(r.eventsPerSecond, name).toBeGreaterThan(0);
      expect(r.outputs, name).toBeGreaterThan(0);
    }
  });
});
