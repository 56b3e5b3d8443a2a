/**
 * q8, monitor new users (Nexmark's q8.sql): persons who opened an auction in the same tumbling 10 s
 * window as they registered. The SQL groups each table by (key, window), so a person comes out once per
 * window however many auctions they opened in it, and joins them on id = seller and the window:
 *
 *   persons (id, name, dateTime) ─┐
 *                                 ├─ coGroup where(id) equalTo(seller), TumblingEventTimeWindows(10 s)
 *   auctions (seller) ────────────┘   ─► (id, name, window start) once per person with an auction
 *
 * A coGroup rather than a join: a join emits a row per (person, auction) pair, where q8 wants one per
 * person. The coGroup function is not told its window (as in Flink); its start is that of the
 * tumbling window holding the person's dateTime, the windows being aligned to the epoch.
 */
import type { Collector, DataStream } from "@riffle/sdk";
import { TumblingEventTimeWindows } from "@riffle/sdk";
import type { Auction, Event, Person } from "../model.js";
import { Q8_WINDOW_SIZE_MS, type Q8Row, windowStart } from "../reference.js";
import { auctionsOf, personsOf } from "./streams.js";

/** The person columns q8 uses. */
export interface Q8Person {
  id: number;
  name: string;
  dateTime: number;
}

/** Once per distinct (id, name) of the window's persons when the seller opened an auction in it. */
export function newSellers(persons: readonly Q8Person[], sellers: readonly number[], out: Collector<Q8Row>): void {
  if (sellers.length === 0) return;
  const names = new Set<string>();
  for (const p of persons) {
    if (names.has(p.name)) continue;
    names.add(p.name);
    out.collect({ id: p.id, name: p.name, starttime: windowStart(p.dateTime, Q8_WINDOW_SIZE_MS) });
  }
}

export function q8(events: DataStream<Event>): DataStream<Q8Row> {
  const persons = personsOf(events)
    .map((p: Person): Q8Person => ({ id: p.id, name: p.name, dateTime: p.dateTime }))
    .name("q8: Person columns");
  const sellers = auctionsOf(events)
    .map((a: Auction) => a.seller)
    .name("q8: Sellers");
  return persons
    .coGroup(sellers)
    .where((p: Q8Person) => p.id)
    .equalTo((seller: number) => seller)
    .window(TumblingEventTimeWindows.of(Q8_WINDOW_SIZE_MS))
    .apply(newSellers)
    .name("q8: New sellers")
    .uid("q8-new-sellers");
}
