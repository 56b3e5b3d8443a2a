/**
 * The Nexmark event stream of a Riffle job and its three tables, as Nexmark's Flink DDL defines them
 * (`CREATE VIEW person / auction / bid AS SELECT ... FROM datagen WHERE event_type = ...`).
 */
import { type DataStream, type SingleOutputStreamOperator, type StreamExecutionEnvironment, WatermarkStrategy } from "@riffle/sdk";
import { AUCTION, type Auction, BID, type Bid, type Event, PERSON, type Person } from "../model.js";
import { NexmarkSource, type NexmarkSourceOptions } from "../source.js";

/**
 * The events of `options` with their dateTime as timestamps and a bounded out-of-orderness watermark
 * of the generator's own bound (`outOfOrdernessMs`, 0 by default): no event is ever late.
 */
export function nexmarkEvents(env: StreamExecutionEnvironment, options: NexmarkSourceOptions = {}): SingleOutputStreamOperator<Event> {
  const bound = options.outOfOrdernessMs ?? 0;
  return env.fromSource(new NexmarkSource(options), WatermarkStrategy.forBoundedOutOfOrderness<Event>(bound), "Nexmark Source").uid("nexmark-source");
}

/** The bid table. */
export function bidsOf(events: DataStream<Event>): SingleOutputStreamOperator<Bid> {
  return events
    .flatMap<Bid>((e: Event, out) => {
      if (e.type === BID) out.collect(e.bid);
    })
    .name("Bids");
}

/** The auction table. */
export function auctionsOf(events: DataStream<Event>): SingleOutputStreamOperator<Auction> {
  return events
    .flatMap<Auction>((e: Event, out) => {
      if (e.type === AUCTION) out.collect(e.auction);
    })
    .name("Auctions");
}

/** The person table. */
export function personsOf(events: DataStream<Event>): SingleOutputStreamOperator<Person> {
  return events
    .flatMap<Person>((e: Event, out) => {
      if (e.type === PERSON) out.collect(e.person);
    })
    .name("Persons");
}
