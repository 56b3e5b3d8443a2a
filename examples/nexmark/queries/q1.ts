/** q1, currency conversion: q0 with the price in euros, `0.908 * price` (Nexmark's q1.sql). */
import type { DataStream } from "@riffle/sdk";
import type { Bid, Event } from "../model.js";
import { type Q1Row, toEuro } from "../reference.js";
import { bidsOf } from "./streams.js";

export function q1(events: DataStream<Event>): DataStream<Q1Row> {
  return bidsOf(events)
    .map((b: Bid): Q1Row => ({ auction: b.auction, bidder: b.bidder, price: toEuro(b.price), dateTime: b.dateTime, extra: b.extra }))
    .name("q1: To Euro");
}
