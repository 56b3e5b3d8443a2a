/**
 * Hand-written fused loops of Nexmark q0, q1, q2, q5 and q7: no framework, one loop that generates event
 * n, runs the query on it with its state in Maps and arrays, and hands each result row to a sink. They
 * are the "fused hand-written loop" baselines that benchmarks divide Riffle's rates by. Every event is
 * generated (persons and auctions too), as Nexmark's source does, and counts in `events`.
 *
 * q5 and q7 run in event time: a watermark trails the largest timestamp seen by `watermarkDelayMs`
 * (Flink's BoundedOutOfOrderness: max - delay - 1), windows fire as it passes their end, records behind
 * it are dropped as late, and the end of input fires the rest. With the default delay (the generator's
 * outOfOrdernessMs) nothing is late and the rows equal reference.ts's.
 *
 *   node --import tsx examples/nexmark/fused.ts q5 10000000 [eventsPerSecond] [outOfOrdernessMs]
 */
import { NexmarkGenerator, type NexmarkConfig } from "./generator.js";
import { pathToFileURL } from "node:url";
import { AUCTION, BID, type Bid, type Event } from "./model.js";
import {
  type BidRow,
  bidRow,
  Q2_AUCTION_MODULUS,
  Q5_WINDOW_SIZE_MS,
  Q5_WINDOW_SLIDE_MS,
  Q7_WINDOW_SIZE_MS,
  type Q1Row,
  type Q2Row,
  type Q5Row,
  type Q7Row,
  toEuro,
  windowStart,
} from "./reference.js";

export interface FusedResult {
  /** Events generated (all types). */
  events: number;
  ms: number;
  eventsPerSecond: number;
  /** Rows handed to the sink. */
  outputs: number;
  /** Records dropped behind the watermark (q5, q7; 0 unless watermarkDelayMs < outOfOrdernessMs). */
  late: number;
}

export interface FusedOptions<R> {
  /**
   * Receives every result row, and the number of the event being processed when it came out (`events`
   * for the rows fired by the end of input); by default a blackhole that keeps the last row (so that V8
   * cannot optimize the rows away).
   */
  sink?: (row: R, atEvent: number) => void;
  /** Event-time queries: how far the watermark trails the largest timestamp; default config.outOfOrdernessMs. */
  watermarkDelayMs?: number;
}

/** A fused query as a benchmark calls it: `events` events of the stream `config` describes, rows into the blackhole. */
export type FusedQuery = (config: Partial<NexmarkConfig>, events: number) => FusedResult;

/** The blackhole (as in JMH): the last row written. */
export let lastOutput: unknown;
function blackhole(row: unknown): void {
  lastOutput = row;
}

function timestampOf(e: Event): number {
  return e.type === BID ? e.bid.dateTime : e.type === AUCTION ? e.auction.dateTime : e.person.dateTime;
}

function result(events: number, start: number, outputs: number, late = 0): FusedResult {
  const ms = performance.now() - start;
  return { events, ms, eventsPerSecond: events / (ms / 1000), outputs, late };
}

/** q0: every bid, projected to (auction, bidder, price, dateTime, extra). */
export function fusedQ0(config: Partial<NexmarkConfig>, events: number, options: FusedOptions<BidRow> = {}): FusedResult {
  const gen = new NexmarkGenerator(config);
  const sink = options.sink ?? blackhole;
  const start = performance.now();
  let outputs = 0;
  for (let n = 0; n < events; n++) {
    const e = gen.event(n);
    if (e.type !== BID) continue;
    const b = e.bid;
    sink({ auction: b.auction, bidder: b.bidder, price: b.price, dateTime: b.dateTime, extra: b.extra }, n);
    outputs++;
  }
  return result(events, start, outputs);
}

/** q1: q0 with the price in euros. */
export function fusedQ1(config: Partial<NexmarkConfig>, events: number, options: FusedOptions<Q1Row> = {}): FusedResult {
  const gen = new NexmarkGenerator(config);
  const sink = options.sink ?? blackhole;
  const start = performance.now();
  let outputs = 0;
  for (let n = 0; n < events; n++) {
    const e = gen.event(n);
    if (e.type !== BID) continue;
    const b = e.bid;
    sink({ auction: b.auction, bidder: b.bidder, price: toEuro(b.price), dateTime: b.dateTime, extra: b.extra }, n);
    outputs++;
  }
  return result(events, start, outputs);
}

/** q2: (auction, price) of the bids with auction % 123 = 0. */
export function fusedQ2(config: Partial<NexmarkConfig>, events: number, options: FusedOptions<Q2Row> = {}): FusedResult {
  const gen = new NexmarkGenerator(config);
  const sink = options.sink ?? blackhole;
  const start = performance.now();
  let outputs = 0;
  for (let n = 0; n < events; n++) {
    const e = gen.event(n);
    if (e.type !== BID || e.bid.auction % Q2_AUCTION_MODULUS !== 0) continue;
    sink({ auction: e.bid.auction, price: e.bid.price }, n);
    outputs++;
  }
  return result(events, start, outputs);
}

/**
 * q5: bid counts per auction in 2 s slices (one map update per bid, as Flink's sliced window
 * aggregation); when the watermark passes a 10 s window's end, its 5 slices are summed and the
 * auction(s) with the top count come out, and its oldest slice is dropped.
 */
export function fusedQ5(config: Partial<NexmarkConfig>, events: number, options: FusedOptions<Q5Row> = {}): FusedResult {
  const gen = new NexmarkGenerator(config);
  const sink = options.sink ?? blackhole;
  const delay = options.watermarkDelayMs ?? gen.config.outOfOrdernessMs;
  const slicesPerWindow = Q5_WINDOW_SIZE_MS / Q5_WINDOW_SLIDE_MS;
  const slices = new Map<number, Map<number, number>>();
  let curStart = Number.NaN;
  let cur: Map<number, number> | undefined;
  let maxTs = Number.NEGATIVE_INFINITY;
  let watermark = Number.NEGATIVE_INFINITY;
  // End of the next window to fire (all earlier ones have fired); NaN while there is no state.
  let nextEnd = Number.NaN;
  let outputs = 0;
  let late = 0;
  let n = 0;

  const fire = (end: number) => {
    const start = end - Q5_WINDOW_SIZE_MS;
    let merged: Map<number, number> | undefined;
    for (let k = 0; k < slicesPerWindow; k++) {
      const slice = slices.get(start + k * Q5_WINDOW_SLIDE_MS);
      if (!slice) continue;
      if (!merged) merged = new Map(slice);
      else for (const [auction, n] of slice) merged.set(auction, (merged.get(auction) ?? 0) + n);
    }
    if (merged) {
      let max = 0;
      for (const n of merged.values()) if (n > max) max = n;
      for (const [auction, num] of merged) {
        if (num < max) continue;
        sink({ auction, num, windowStart: start, windowEnd: end }, n);
        outputs++;
      }
    }
    // No later window holds this slice.
    slices.delete(start);
    if (curStart === start) {
      curStart = Number.NaN;
      cur = undefined;
    }
    nextEnd = slices.size === 0 ? Number.NaN : end + Q5_WINDOW_SLIDE_MS;
  };

  const start = performance.now();
  for (; n < events; n++) {
    const e = gen.event(n);
    const ts = timestampOf(e);
    if (e.type === BID) {
      if (ts <= watermark) late++;
      else {
        const s = windowStart(ts, Q5_WINDOW_SLIDE_MS);
        if (s !== curStart) {
          cur = slices.get(s);
          if (!cur) slices.set(s, (cur = new Map()));
          curStart = s;
        }
        const auction = e.bid.auction;
        cur!.set(auction, (cur!.get(auction) ?? 0) + 1);
        // The first window holding this bid ends one slide after its slice starts. (It may end before
        // nextEnd: windows that were empty so far, below the timestamps seen, have not fired.)
        if (!(nextEnd <= s + Q5_WINDOW_SLIDE_MS)) nextEnd = s + Q5_WINDOW_SLIDE_MS;
      }
    }
    if (ts > maxTs) {
      maxTs = ts;
      watermark = maxTs - delay - 1;
      while (nextEnd - 1 <= watermark) fire(nextEnd);
    }
  }
  while (!Number.isNaN(nextEnd)) fire(nextEnd);
  return result(events, start, outputs, late);
}

interface Q7Window {
  max: number;
  /** The window's bids at its max price. */
  best: Bid[];
  /** The window's bids at exactly its start: the previous window's BETWEEN includes them. */
  edge: Bid[];
}

/**
 * q7: per tumbling 10 s window its max price and the bids at that price. q7.sql's join takes bids with
 * dateTime BETWEEN window_end - 10 s AND window_end, so a window fires once the watermark reaches its
 * end (not end - 1), when the bids stamped exactly window_end are in; those of them at its max price
 * come out with it. `inclusiveEnd: false`: the plain per-window max bids, fired at end - 1.
 */
export function fusedQ7(config: Partial<NexmarkConfig>, events: number, options: FusedOptions<Q7Row> & { inclusiveEnd?: boolean } = {}): FusedResult {
  const gen = new NexmarkGenerator(config);
  const sink = options.sink ?? blackhole;
  const delay = options.watermarkDelayMs ?? gen.config.outOfOrdernessMs;
  const inclusiveEnd = options.inclusiveEnd ?? true;
  const lag = inclusiveEnd ? 0 : 1;
  const windows = new Map<number, Q7Window>();
  let curStart = Number.NaN;
  let cur: Q7Window | undefined;
  let maxTs = Number.NEGATIVE_INFINITY;
  let watermark = Number.NEGATIVE_INFINITY;
  let nextEnd = Number.NaN;
  let outputs = 0;
  let late = 0;
  let n = 0;

  const fire = (end: number) => {
    const start = end - Q7_WINDOW_SIZE_MS;
    const w = windows.get(start);
    const next = windows.get(end);
    if (w) {
      for (const b of w.best) {
        sink(bidRow(b), n);
        outputs++;
      }
      if (next && inclusiveEnd)
        for (const b of next.edge) {
          if (b.price !== w.max) continue;
          sink(bidRow(b), n);
          outputs++;
        }
      windows.delete(start);
      if (curStart === start) {
        curStart = Number.NaN;
        cur = undefined;
      }
    }
    if (next) next.edge = [];
    nextEnd = windows.size === 0 ? Number.NaN : end + Q7_WINDOW_SIZE_MS;
  };

  const start = performance.now();
  for (; n < events; n++) {
    const e = gen.event(n);
    const ts = timestampOf(e);
    if (e.type === BID) {
      // Late: its window (or, for a bid at a window start, the previous window) has fired.
      if (ts <= watermark) late++;
      else {
        const b = e.bid;
        const s = windowStart(ts, Q7_WINDOW_SIZE_MS);
        if (s !== curStart) {
          cur = windows.get(s);
          if (!cur) windows.set(s, (cur = { max: Number.NEGATIVE_INFINITY, best: [], edge: [] }));
          curStart = s;
        }
        const w = cur!;
        if (b.price > w.max) {
          w.max = b.price;
          w.best = [b];
        } else if (b.price === w.max) w.best.push(b);
        if (inclusiveEnd && ts === s) w.edge.push(b);
        if (!(nextEnd <= s + Q7_WINDOW_SIZE_MS)) nextEnd = s + Q7_WINDOW_SIZE_MS;
      }
    }
    if (ts > maxTs) {
      maxTs = ts;
      watermark = maxTs - delay - 1;
      while (nextEnd - lag <= watermark) fire(nextEnd);
    }
  }
  while (!Number.isNaN(nextEnd)) fire(nextEnd);
  return result(events, start, outputs, late);
}

export const FUSED_QUERIES: Readonly<Record<"q0" | "q1" | "q2" | "q5" | "q7", FusedQuery>> = {
  q0: fusedQ0,
  q1: fusedQ1,
  q2: fusedQ2,
  q5: fusedQ5,
  q7: fusedQ7,
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [query = "q0", eventsArg = "10000000", rateArg, oooArg] = process.argv.slice(2);
  const fn = (FUSED_QUERIES as Record<string, FusedQuery>)[query];
  if (!fn) throw new Error(`usage: fused.ts <${Object.keys(FUSED_QUERIES).join("|")}> <events> [eventsPerSecond] [outOfOrdernessMs]`);
  const config: Partial<NexmarkConfig> = {};
  if (rateArg) config.eventsPerSecond = Number(rateArg);
  if (oooArg) config.outOfOrdernessMs = Number(oooArg);
  const events = Number(eventsArg);
  fn(config, Math.min(events, 1_000_000)); // JIT warm-up
  console.log(JSON.stringify({ query, ...fn(config, events) }));
}
