/** q2, selection: `SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0` (Nexmark's q2.sql). */
import type { DataStream } from "@riffle/sdk";
import type { Bid, Event } from "../model.js";
import { Q2_AUCTION_MODULUS, type Q2Row } from "../reference.js";
import { bidsOf } from "./streams.js";

export function q2(events: DataStream<Event>): DataStream<Q2Row> {
  return bidsOf(events)
    .filter((b: Bid) => b.auction % Q2_AUCTION_MODULUS === 0)
    .name("q2: Filter")
    .map((b: Bid): Q2Row => ({ auction: b.auction, price: b.price }))
    .name("q2: Project");
}
