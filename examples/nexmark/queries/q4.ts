/**
 * q4, average price per category (Nexmark's q4.sql):
 *
 *   SELECT Q.category, AVG(Q.final) FROM (
 *     SELECT MAX(B.price) AS final, A.category FROM auction A, bid B
 *     WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires
 *     GROUP BY A.id, A.category
 *   ) Q GROUP BY Q.category
 *
 * In two keyed steps:
 *
 *   auctions (id, category, dateTime, expires) ─keyBy(id)──────┐
 *                                                               ├─► Q4WinningBid ─► (category, price) at expires
 *   bids (auction, dateTime, price) ─────────────keyBy(auction)┘        │
 *                                                        keyBy(category) │ reduce: sum, count
 *                                                                        ▼
 *                                                        (category, avg, sum, count), updated per auction
 *
 * An auction's final price is known when the watermark passes its expiry: an event-time timer there
 * emits it and clears the auction's state, where the SQL join keeps both tables forever. The average
 * per category is a running one (the SQL's is an updating result too): its last value is the final
 * one, equal to reference.ts's.
 */
import type {
  Collector,
  DataStream,
  KeyedCoProcessFunction,
  KeyedProcessContext,
  KeyedStateStore,
  ListState,
  OnTimerContext,
  RuntimeContext,
  ValueState,
} from "@riffle/sdk";
import { ListStateDescriptor, ValueStateDescriptor } from "@riffle/sdk";
import type { Auction, Bid, Event } from "../model.js";
import type { Q4Row } from "../reference.js";
import { auctionsOf, bidsOf } from "./streams.js";

/** The auction columns q4 uses. */
export interface Q4Auction {
  id: number;
  category: number;
  dateTime: number;
  expires: number;
}

/** The bid columns q4 uses. */
export interface Q4Bid {
  auction: number;
  dateTime: number;
  price: number;
}

/** An auction's final price: its highest bid within its lifetime. */
export interface Q4Final {
  category: number;
  price: number;
}

/**
 * Per auction id: the auction and its highest bid so far within [dateTime, expires]; at expires, the
 * final price. Bids may come before their auction (a bid can name an auction up to 10 ahead, and with
 * out-of-orderness any order is possible): they wait until it comes, or until the watermark passes
 * them, after which their auction can no longer come (it would be late: its dateTime is at most the
 * bid's when the bid counts).
 */
export class Q4WinningBid implements KeyedCoProcessFunction<number, Q4Auction, Q4Bid, Q4Final> {
  private auction!: ValueState<Q4Auction>;
  /** The highest bid in the auction's lifetime so far. */
  private best!: ValueState<number>;
  /** [dateTime, price] of bids that came before their auction. */
  private early!: ListState<[number, number]>;

  open(ctx: RuntimeContext & KeyedStateStore): void {
    this.auction = ctx.getState(new ValueStateDescriptor<Q4Auction>("auction"));
    this.best = ctx.getState(new ValueStateDescriptor<number>("best-price"));
    this.early = ctx.getListState(new ListStateDescriptor<[number, number]>("early-bids"));
  }

  processElement1(a: Q4Auction, ctx: KeyedProcessContext<number>): void {
    this.auction.update(a);
    const early = this.early.get();
    if (early.length > 0) {
      let best: number | undefined;
      for (const [dateTime, price] of early) if (dateTime >= a.dateTime && dateTime <= a.expires && (best === undefined || price > best)) best = price;
      if (best !== undefined) this.best.update(best);
      this.early.clear();
    }
    ctx.timerService().registerEventTimeTimer(a.expires);
  }

  processElement2(b: Q4Bid, ctx: KeyedProcessContext<number>): void {
    const a = this.auction.value();
    if (a !== undefined) {
      if (b.dateTime < a.dateTime || b.dateTime > a.expires) return;
      const best = this.best.value();
      if (best === undefined || b.price > best) this.best.update(b.price);
      return;
    }
    // No auction: it expired (and the bid is too late for it), or it has not come yet. It can still
    // come only if the bid is ahead of the watermark.
    const timers = ctx.timerService();
    if (b.dateTime <= timers.currentWatermark()) return;
    this.early.add([b.dateTime, b.price]);
    timers.registerEventTimeTimer(b.dateTime);
  }

  onTimer(timestamp: number, _ctx: OnTimerContext<number>, out: Collector<Q4Final>): void {
    const a = this.auction.value();
    if (a !== undefined) {
      // An early bid's timer, after its auction came.
      if (timestamp < a.expires) return;
      const best = this.best.value();
      if (best !== undefined) out.collect({ category: a.category, price: best });
      this.auction.clear();
      this.best.clear();
      return;
    }
    // The watermark passed these early bids: their auction will not come any more.
    const early = this.early.get();
    const waiting = early.filter(([dateTime]) => dateTime > timestamp);
    if (waiting.length < early.length) this.early.update(waiting);
  }
}

interface CategorySum {
  category: number;
  sum: number;
  count: number;
}

export function q4(events: DataStream<Event>): DataStream<Q4Row> {
  const auctions = auctionsOf(events)
    .map((a: Auction): Q4Auction => ({ id: a.id, category: a.category, dateTime: a.dateTime, expires: a.expires }))
    .name("q4: Auction columns");
  const bids = bidsOf(events)
    .map((b: Bid): Q4Bid => ({ auction: b.auction, dateTime: b.dateTime, price: b.price }))
    .name("q4: Bid columns");
  return auctions
    .connect(bids)
    .keyBy(
      (a: Q4Auction) => a.id,
      (b: Q4Bid) => b.auction,
    )
    .process(new Q4WinningBid())
    .name("q4: Winning bids")
    .uid("q4-winning-bids")
    .map((f: Q4Final): CategorySum => ({ category: f.category, sum: f.price, count: 1 }))
    .keyBy((s: CategorySum) => s.category)
    .reduce((a: CategorySum, b: CategorySum): CategorySum => ({ category: a.category, sum: a.sum + b.sum, count: a.count + b.count }))
    .name("q4: Sum per category")
    .uid("q4-sum-per-category")
    .map((s: CategorySum): Q4Row => ({ category: s.category, avg: Math.trunc(s.sum / s.count), sum: s.sum, count: s.count }))
    .name("q4: Average");
}
