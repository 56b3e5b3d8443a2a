/**
 * Brute-force reference results of Nexmark queries q0-q5, q7 and q8 over an array of events, with the
 * semantics of Nexmark's Flink SQL (nexmark-flink/src/main/resources/queries/q*.sql) in event time: the
 * order of the array does not matter and every window is closed at the end of the input (the end
 * watermark). Each function returns its rows sorted canonically (`sortRows`), so results compare as
 * multisets with a deep equality.
 */
import { AUCTION, type Auction, BID, type Bid, type Event, PERSON, type Person } from "./model.js";

/** q5: HOP(bid, dateTime, slide 2 s, size 10 s). */
export const Q5_WINDOW_SIZE_MS = 10_000;
export const Q5_WINDOW_SLIDE_MS = 2_000;
/** q7: TUMBLE(bid, dateTime, 10 s). */
export const Q7_WINDOW_SIZE_MS = 10_000;
/** q8: TUMBLE(person | auction, dateTime, 10 s). */
export const Q8_WINDOW_SIZE_MS = 10_000;
/** q3: the states and the category it keeps. */
export const Q3_STATES: ReadonlySet<string> = new Set(["OR", "ID", "CA"]);
export const Q3_CATEGORY = 10;
/** q2: bids on auctions whose id is a multiple of this. */
export const Q2_AUCTION_MODULUS = 123;

/** q0 (and q7's row): the bid's columns that q0.sql selects. */
export interface BidRow {
  auction: number;
  bidder: number;
  price: number;
  dateTime: number;
  extra: string;
}
/** q1: q0's row with the price in euros. */
export type Q1Row = BidRow;
export interface Q2Row {
  auction: number;
  price: number;
}
/** q3: P.name, P.city, P.state, A.id. */
export interface Q3Row {
  name: string;
  city: string;
  state: string;
  id: number;
}
/** q4: per category, AVG(final) over its auctions' winning prices (`avg`, truncated as Flink's AVG of a BIGINT), with the sum and count it comes from. */
export interface Q4Row {
  category: number;
  avg: number;
  sum: number;
  count: number;
}
/** q5: (auction, num) of the window's hottest auction(s); the window's bounds are added so that rows of different windows tell apart. */
export interface Q5Row {
  auction: number;
  num: number;
  windowStart: number;
  windowEnd: number;
}
export type Q7Row = BidRow;
/** q8: P.id, P.name, P.starttime (the window start). */
export interface Q8Row {
  id: number;
  name: string;
  starttime: number;
}

/** q1.sql's `0.908 * price` (a DECIMAL(23, 3)) as the nearest double to the exact decimal. */
export function toEuro(price: number): number {
  return (price * 908) / 1000;
}

/** The start of the tumbling (or sliding, with `size` = slide) window of `size` ms aligned to the epoch that holds `t`. */
export function windowStart(t: number, size: number): number {
  return t - (((t % size) + size) % size);
}

export function bidRow(b: Bid): BidRow {
  return { auction: b.auction, bidder: b.bidder, price: b.price, dateTime: b.dateTime, extra: b.extra };
}

/** Sorts rows by their fields (in the order of `keys`, or of the first row's keys): numbers numerically, strings by code unit. */
export function sortRows<T extends object>(rows: T[], keys?: readonly (keyof T)[]): T[] {
  if (rows.length === 0) return rows;
  const ks = keys ?? (Object.keys(rows[0]!) as (keyof T)[]);
  return rows.sort((a, b) => {
    for (const k of ks) {
      const x = a[k] as unknown;
      const y = b[k] as unknown;
      if (x === y) continue;
      if (typeof x === "number" && typeof y === "number") return x - y;
      return String(x) < String(y) ? -1 : 1;
    }
    return 0;
  });
}

function bids(events: readonly Event[]): Bid[] {
  const out: Bid[] = [];
  for (const e of events) if (e.type === BID) out.push(e.bid);
  return out;
}

function persons(events: readonly Event[]): Person[] {
  const out: Person[] = [];
  for (const e of events) if (e.type === PERSON) out.push(e.person);
  return out;
}

function auctions(events: readonly Event[]): Auction[] {
  const out: Auction[] = [];
  for (const e of events) if (e.type === AUCTION) out.push(e.auction);
  return out;
}

/** q0, pass-through: SELECT auction, bidder, price, dateTime, extra FROM bid. */
export function q0(events: readonly Event[]): BidRow[] {
  return sortRows(bids(events).map(bidRow));
}

/** q1, currency conversion: q0 with `0.908 * price`. */
export function q1(events: readonly Event[]): Q1Row[] {
  return sortRows(bids(events).map((b) => ({ ...bidRow(b), price: toEuro(b.price) })));
}

/** q2, selection: SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0. */
export function q2(events: readonly Event[]): Q2Row[] {
  const out: Q2Row[] = [];
  for (const b of bids(events)) if (b.auction % Q2_AUCTION_MODULUS === 0) out.push({ auction: b.auction, price: b.price });
  return sortRows(out);
}

/**
 * q3, local item suggestion: sellers in OR, ID or CA and their auctions in category 10. An unwindowed
 * inner join on A.seller = P.id: every matching pair, whichever came first.
 */
export function q3(events: readonly Event[]): Q3Row[] {
  const bySeller = new Map<number, Person[]>();
  for (const p of persons(events)) {
    if (!Q3_STATES.has(p.state)) continue;
    const list = bySeller.get(p.id);
    if (list) list.push(p);
    else bySeller.set(p.id, [p]);
  }
  const out: Q3Row[] = [];
  for (const a of auctions(events)) {
    if (a.category !== Q3_CATEGORY) continue;
    for (const p of bySeller.get(a.seller) ?? []) out.push({ name: p.name, city: p.city, state: p.state, id: a.id });
  }
  return sortRows(out);
}

/**
 * q4, average price per category: an auction's final price is its highest bid with
 * `B.dateTime BETWEEN A.dateTime AND A.expires` (both ends included); per category, the average of the
 * final prices of its auctions that have such a bid. (q4.sql checks neither the reserve price nor
 * whether the auction has expired: at the end of input every auction counts.)
 */
export function q4(events: readonly Event[]): Q4Row[] {
  const byId = new Map<number, Auction[]>();
  for (const a of auctions(events)) {
    const list = byId.get(a.id);
    if (list) list.push(a);
    else byId.set(a.id, [a]);
  }
  // The join groups by (A.id, A.category); ids are unique, so an auction event is a group.
  const final = new Map<Auction, number>();
  for (const b of bids(events)) {
    for (const a of byId.get(b.auction) ?? []) {
      if (b.dateTime < a.dateTime || b.dateTime > a.expires) continue;
      const had = final.get(a);
      if (had === undefined || b.price > had) final.set(a, b.price);
    }
  }
  const perCategory = new Map<number, { sum: number; count: number }>();
  for (const [a, price] of final) {
    const agg = perCategory.get(a.category);
    if (agg) {
      agg.sum += price;
      agg.count++;
    } else perCategory.set(a.category, { sum: price, count: 1 });
  }
  const out: Q4Row[] = [];
  for (const [category, { sum, count }] of perCategory) out.push({ category, avg: Math.trunc(sum / count), sum, count });
  return sortRows(out);
}

/**
 * q5, hot items: per sliding window (10 s, every 2 s), the auction(s) with the most bids: q5.sql joins
 * the per-(auction, window) counts with their per-window maximum on `num >= maxn`, so ties all come out.
 */
export function q5(events: readonly Event[]): Q5Row[] {
  const counts = new Map<number, Map<number, number>>();
  for (const b of bids(events)) {
    for (let s = windowStart(b.dateTime, Q5_WINDOW_SLIDE_MS); s > b.dateTime - Q5_WINDOW_SIZE_MS; s -= Q5_WINDOW_SLIDE_MS) {
      let perAuction = counts.get(s);
      if (!perAuction) counts.set(s, (perAuction = new Map()));
      perAuction.set(b.auction, (perAuction.get(b.auction) ?? 0) + 1);
    }
  }
  const out: Q5Row[] = [];
  for (const [start, perAuction] of counts) {
    let max = 0;
    for (const n of perAuction.values()) if (n > max) max = n;
    for (const [auction, num] of perAuction) if (num >= max) out.push({ auction, num, windowStart: start, windowEnd: start + Q5_WINDOW_SIZE_MS });
  }
  return sortRows(out, ["windowStart", "auction", "num", "windowEnd"]);
}

/**
 * q7, highest bid: per tumbling 10 s window its MAX(price), joined back with the bids on
 * `B.price = maxprice AND B.dateTime BETWEEN window_end - 10 s AND window_end`. BETWEEN includes
 * window_end, which belongs to the next window: a bid at exactly window_end with that price comes out
 * too (once per window it matches). `inclusiveEnd: false` gives the plain per-window max instead.
 */
export function q7(events: readonly Event[], options: { inclusiveEnd?: boolean } = {}): Q7Row[] {
  const inclusiveEnd = options.inclusiveEnd ?? true;
  const all = bids(events);
  const maxPrice = new Map<number, number>();
  for (const b of all) {
    const s = windowStart(b.dateTime, Q7_WINDOW_SIZE_MS);
    const had = maxPrice.get(s);
    if (had === undefined || b.price > had) maxPrice.set(s, b.price);
  }
  const out: Q7Row[] = [];
  for (const b of all) {
    const s = windowStart(b.dateTime, Q7_WINDOW_SIZE_MS);
    if (maxPrice.get(s) === b.price) out.push(bidRow(b));
    // The window that ends where this bid's window starts.
    if (inclusiveEnd && b.dateTime === s && maxPrice.get(s - Q7_WINDOW_SIZE_MS) === b.price) out.push(bidRow(b));
  }
  return sortRows(out);
}

/**
 * q8, monitor new users: persons who opened an auction in the same tumbling 10 s window as they
 * registered (person.id = auction.seller and the same window), once per (id, name, window).
 */
export function q8(events: readonly Event[]): Q8Row[] {
  const sellerWindows = new Set<string>();
  for (const a of auctions(events)) sellerWindows.add(`${a.seller}/${windowStart(a.dateTime, Q8_WINDOW_SIZE_MS)}`);
  const out = new Map<string, Q8Row>();
  for (const p of persons(events)) {
    const starttime = windowStart(p.dateTime, Q8_WINDOW_SIZE_MS);
    if (!sellerWindows.has(`${p.id}/${starttime}`)) continue;
    out.set(`${p.id}/${p.name}/${starttime}`, { id: p.id, name: p.name, starttime });
  }
  return sortRows([...out.values()]);
}
