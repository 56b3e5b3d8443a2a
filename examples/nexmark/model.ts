/**
 * Nexmark's data model (nexmark/nexmark, nexmark-flink `model/{Person,Auction,Bid,Event}.java`): an online
 * auction where people register, open auctions and bid on them. All plain data (numbers and strings) so
 * that msgpack encodes it as is; `dateTime` and `expires` are epoch milliseconds (Flink's TIMESTAMP(3)).
 */

/** A person registering (Nexmark's "new person" event). */
export interface Person {
  id: number;
  name: string;
  emailAddress: string;
  creditCard: string;
  city: string;
  state: string;
  dateTime: number;
  extra: string;
}

/** An auction opening (Nexmark's "new auction" event); bids count until `expires`. */
export interface Auction {
  id: number;
  itemName: string;
  description: string;
  initialBid: number;
  reserve: number;
  dateTime: number;
  expires: number;
  /** A Person.id. */
  seller: number;
  category: number;
  extra: string;
}

/** A bid on an auction. */
export interface Bid {
  /** An Auction.id. */
  auction: number;
  /** A Person.id. */
  bidder: number;
  price: number;
  channel: string;
  url: string;
  dateTime: number;
  extra: string;
}

/** Event types, as in Nexmark's `event_type` column (Event.Type.value). */
export const PERSON = 0;
export const AUCTION = 1;
export const BID = 2;
export type EventType = typeof PERSON | typeof AUCTION | typeof BID;

export interface PersonEvent {
  type: typeof PERSON;
  person: Person;
}
export interface AuctionEvent {
  type: typeof AUCTION;
  auction: Auction;
}
export interface BidEvent {
  type: typeof BID;
  bid: Bid;
}

/** One Nexmark event (the ROW of Nexmark's `datagen` table: event_type and one of person, auction, bid). */
export type Event = PersonEvent | AuctionEvent | BidEvent;

/** The event's event-time timestamp (the `dateTime` column of Nexmark's table). */
export function eventTime(e: Event): number {
  switch (e.type) {
    case PERSON:
      return e.person.dateTime;
    case AUCTION:
      return e.auction.dateTime;
    default:
      return e.bid.dateTime;
  }
}
