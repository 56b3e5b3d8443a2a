/** q0, pass-through: `SELECT auction, bidder, price, dateTime, extra FROM bid` (Nexmark's q0.sql). */
import type { DataStream } from "@riffle/sdk";
import type { Bid, Event } from "../model.js";
import type { BidRow } from "../reference.js";
import { bidsOf } from "./streams.js";

export function q0(events: DataStream<Event>): DataStream<BidRow> {
  return bidsOf(events)
    .map((b: Bid): BidRow => ({ auction: b.auction, bidder: b.bidder, price: b.price, dateTime: b.dateTime, extra: b.extra }))
    .name("q0: Project");
}
