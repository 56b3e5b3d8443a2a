/**
 * q3, local item suggestion (Nexmark's q3.sql):
 *
 *   SELECT P.name, P.city, P.state, A.id
 *   FROM auction AS A INNER JOIN person AS P ON A.seller = P.id
 *   WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')
 *
 * An unwindowed inner join, as a KeyedCoProcessFunction keyed by person id:
 *
 *   persons (id, name, city, state) ──keyBy(id)─────┐
 *                                                    ├─► Q3Join ─► (name, city, state, auction id)
 *   auctions of category 10 (id, seller) ─keyBy(seller)┘
 *
 * Every match comes out, whichever side arrives first. Unlike the SQL join, which keeps both tables
 * whole, state stays small: a person id is a person's key (Nexmark's ids are unique), so the join
 * remembers per person only whether they sell in OR/ID/CA (and the three columns when they do), and
 * keeps auctions only while their seller has not registered. Persons elsewhere are not filtered out
 * before the join for that reason: their marker lets the join drop their auctions instead of keeping
 * them forever.
 */
import type { Collector, DataStream, KeyedCoProcessFunction, KeyedStateStore, ListState, RuntimeContext, ValueState } from "@riffle/sdk";
import { ListStateDescriptor, ValueStateDescriptor } from "@riffle/sdk";
import type { Auction, Event, Person } from "../model.js";
import { Q3_CATEGORY, Q3_STATES, type Q3Row } from "../reference.js";
import { auctionsOf, personsOf } from "./streams.js";

/** The person columns q3 uses. */
export interface Q3Person {
  id: number;
  name: string;
  city: string;
  state: string;
}

/** The auction columns q3 uses. */
export interface Q3Auction {
  id: number;
  seller: number;
}

/** A seller q3 outputs: the person's columns of a row. */
type Seller = Omit<Q3Row, "id">;

export class Q3Join implements KeyedCoProcessFunction<number, Q3Person, Q3Auction, Q3Row> {
  /** The seller's columns; null: registered, but not in OR, ID or CA; undefined: not registered yet. */
  private seller!: ValueState<Seller | null>;
  /** Ids of the seller's auctions that came before the seller did. */
  private pending!: ListState<number>;

  open(ctx: RuntimeContext & KeyedStateStore): void {
    this.seller = ctx.getState(new ValueStateDescriptor<Seller | null>("seller"));
    this.pending = ctx.getListState(new ListStateDescriptor<number>("pending-auctions"));
  }

  processElement1(p: Q3Person, _ctx: unknown, out: Collector<Q3Row>): void {
    const seller = Q3_STATES.has(p.state) ? { name: p.name, city: p.city, state: p.state } : null;
    this.seller.update(seller);
    const pending = this.pending.get();
    if (pending.length === 0) return;
    if (seller) for (const id of pending) out.collect({ name: seller.name, city: seller.city, state: seller.state, id });
    this.pending.clear();
  }

  processElement2(a: Q3Auction, _ctx: unknown, out: Collector<Q3Row>): void {
    const seller = this.seller.value();
    if (seller === undefined) this.pending.add(a.id);
    else if (seller !== null) out.collect({ name: seller.name, city: seller.city, state: seller.state, id: a.id });
  }
}

export function q3(events: DataStream<Event>): DataStream<Q3Row> {
  const persons = personsOf(events)
    .map((p: Person): Q3Person => ({ id: p.id, name: p.name, city: p.city, state: p.state }))
    .name("q3: Person columns");
  const auctions = auctionsOf(events)
    .filter((a: Auction) => a.category === Q3_CATEGORY)
    .name("q3: Category 10")
    .map((a: Auction): Q3Auction => ({ id: a.id, seller: a.seller }))
    .name("q3: Auction columns");
  return persons
    .connect(auctions)
    .keyBy(
      (p: Q3Person) => p.id,
      (a: Q3Auction) => a.seller,
    )
    .process(new Q3Join())
    .name("q3: Join")
    .uid("q3-join");
}
