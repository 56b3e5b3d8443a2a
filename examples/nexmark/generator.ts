/**
 * A deterministic Nexmark event generator, after nexmark/nexmark's Flink generator
 * (nexmark-flink/src/main/java/com/github/nexmark/flink/generator/: GeneratorConfig, NexmarkGenerator and
 * model/{Person,Auction,Bid,Price,Strings,Long}Generator.java).
 *
 * Event `n` (0-based position in the stream) is a pure function of (config, n): its type comes from
 * `(firstEventId + n) % totalProportion`, its ids from Nexmark's lastBase0PersonId / lastBase0AuctionId
 * arithmetic on that event id, its fields from a PRNG seeded with (seed, event id), and its timestamp
 * from `baseTime + floor(n * 1000 / eventsPerSecond)` minus an optional deterministic jitter. So any
 * subset of events (a parallel subtask's share, the rest of a stream after a checkpoint) can be
 * generated on its own, and always comes out the same.
 *
 * Differences from Nexmark's generator are listed in README.md ("Deviations").
 */
import { AUCTION, type Auction, BID, type Bid, type Event, type EventType, PERSON, type Person } from "./model.js";

/** Ids start at these values, as in Nexmark, "to help ensure the queries find a match even on small datasets". */
export const FIRST_AUCTION_ID = 1000;
export const FIRST_PERSON_ID = 1000;
export const FIRST_CATEGORY_ID = 10;
/** Number of yet-to-be-created people and auction ids a bid or auction may refer to. */
export const PERSON_ID_LEAD = 10;
export const AUCTION_ID_LEAD = 10;
/**
 * The batch sizes of hot auctions, bidders and sellers: a hot one is the first (bidders: the second) of
 * the last batch of 100. Constants in Nexmark's Flink generator (the configured hot*Ratio only sets the
 * probability of picking a hot one).
 */
export const HOT_AUCTION_BATCH = 100;
export const HOT_BIDDER_BATCH = 100;
export const HOT_SELLER_BATCH = 100;
const HOT_CHANNELS_RATIO = 2;
const CHANNELS_NUMBER = 10_000;
const HOT_CHANNELS = ["Google", "Facebook", "Baidu", "Apple"] as const;
const MIN_STRING_LENGTH = 3;
const US_STATES = ["AZ", "CA", "ID", "OR", "WA", "WY"] as const;
const US_CITIES = ["Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"] as const;
const FIRST_NAMES = ["Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"] as const;
const LAST_NAMES = ["Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"] as const;
const LETTERS = "abcdefghijklmnopqrstuvwxyz";

/** 2024-01-01T00:00:00Z: a fixed event-time origin, aligned to every window size used here. */
export const DEFAULT_BASE_TIME = Date.UTC(2024, 0, 1);

export interface NexmarkConfig {
  /** Seeds every event's PRNG (with the event id). */
  seed: number;
  /**
   * Event-time rate: event n has timestamp baseTime + floor(n * 1000 / eventsPerSecond) (Nexmark's
   * `first-event.rate`, its interEventDelayUs = 1e6 / rate). Not a wall-clock rate. Default 10M/s, the
   * rate of Nexmark's published Flink runs (`nexmark.workload.suite.100m.tps`).
   */
  eventsPerSecond: number;
  /** Event id of event 0: ids, types and PRNG seeds come from firstEventId + n. Nexmark's Flink table source starts at 2 (see README). */
  firstEventId: number;
  /** Event time (epoch ms) of event 0. */
  baseTime: number;
  /**
   * Bounded out-of-orderness: event n's timestamp is lowered by a deterministic jitter in
   * [0, outOfOrdernessMs], so no event is more than outOfOrdernessMs behind the largest timestamp
   * before it. 0 (Nexmark's default, outOfOrderGroupSize 1): timestamps never decrease.
   */
  outOfOrdernessMs: number;
  /** Number of events in the stream; undefined for an unbounded one. */
  maxEvents: number | undefined;
  personProportion: number;
  auctionProportion: number;
  bidProportion: number;
  numCategories: number;
  /** Persons an auction or bid may refer to (the most recent ones, plus PERSON_ID_LEAD). */
  numActivePeople: number;
  /** Auctions a non-hot bid may refer to (the most recent ones, plus AUCTION_ID_LEAD); also sets auction lengths. */
  numInFlightAuctions: number;
  /** A bid goes to a hot auction with probability 1 - 1/hotAuctionRatio. */
  hotAuctionRatio: number;
  /** A bid comes from a hot bidder with probability 1 - 1/hotBiddersRatio. */
  hotBiddersRatio: number;
  /** An auction is by a hot seller with probability 1 - 1/hotSellersRatio. */
  hotSellersRatio: number;
  /** Average sizes the `extra` field pads events to, in characters (Nexmark's avg*ByteSize). */
  avgPersonByteSize: number;
  avgAuctionByteSize: number;
  avgBidByteSize: number;
}

export const DEFAULT_CONFIG: Readonly<NexmarkConfig> = Object.freeze({
  seed: 0,
  eventsPerSecond: 10_000_000,
  firstEventId: 0,
  baseTime: DEFAULT_BASE_TIME,
  outOfOrdernessMs: 0,
  maxEvents: undefined,
  personProportion: 1,
  auctionProportion: 3,
  bidProportion: 46,
  numCategories: 5,
  numActivePeople: 1000,
  numInFlightAuctions: 100,
  hotAuctionRatio: 2,
  hotBiddersRatio: 4,
  hotSellersRatio: 4,
  avgPersonByteSize: 200,
  avgAuctionByteSize: 500,
  avgBidByteSize: 100,
});

/** The full configuration: `partial` over the defaults, validated. */
export function nexmarkConfig(partial: Partial<NexmarkConfig> = {}): NexmarkConfig {
  const c: NexmarkConfig = { ...DEFAULT_CONFIG };
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) (c as unknown as Record<string, unknown>)[k] = v;
  const int = (name: keyof NexmarkConfig, min: number) => {
    const v = c[name];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) throw new Error(`nexmark ${name} must be an integer >= ${min}, got ${v}`);
  };
  int("seed", Number.MIN_SAFE_INTEGER);
  if (!(c.eventsPerSecond > 0) || !Number.isFinite(c.eventsPerSecond)) throw new Error(`nexmark eventsPerSecond must be positive, got ${c.eventsPerSecond}`);
  int("firstEventId", 0);
  int("baseTime", Number.MIN_SAFE_INTEGER);
  int("outOfOrdernessMs", 0);
  if (c.maxEvents !== undefined) int("maxEvents", 0);
  int("personProportion", 0);
  int("auctionProportion", 0);
  int("bidProportion", 0);
  if (c.personProportion < 1 || c.auctionProportion < 1) throw new Error("nexmark personProportion and auctionProportion must be >= 1");
  int("numCategories", 1);
  int("numActivePeople", 1);
  int("numInFlightAuctions", 1);
  int("hotAuctionRatio", 1);
  int("hotBiddersRatio", 1);
  int("hotSellersRatio", 1);
  int("avgPersonByteSize", 0);
  int("avgAuctionByteSize", 0);
  int("avgBidByteSize", 0);
  return c;
}

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * splitmix32, re-seeded for every event from (seed, event id, stream): Nexmark's SplittableRandom
 * plays this part (unseeded there, so Flink's runs are not reproducible; ours are). 32 bits per draw.
 */
export class EventRandom {
  private state = 0;

  reset(seed: number, id: number, stream = 0): this {
    const lo = id >>> 0;
    const hi = Math.floor(id / 4294967296) >>> 0;
    let h = mix32((seed ^ 0x2545f491 ^ Math.imul(stream, 0x632be5ab)) | 0);
    h = mix32((h ^ lo) + 0x6a09e667);
    h = mix32((h ^ hi) + 0x3c6ef372);
    this.state = h | 0;
    return this;
  }

  next32(): number {
    this.state = (this.state + 0x9e3779b9) | 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** Uniform in [0, 1). */
  double(): number {
    return this.next32() / 4294967296;
  }

  /** Uniform integer in [0, n) (Java's nextInt(n) and LongGenerator.nextLong). */
  int(n: number): number {
    return Math.floor((this.next32() / 4294967296) * n);
  }
}

// --- Strings (StringsGenerator.java) --------------------------------------------------------------

/** A random string of 3..maxLength-1 letters, with `special` in place of about one letter in 13, trimmed. */
function nextString(r: EventRandom, maxLength: number, special = " "): string {
  let len = MIN_STRING_LENGTH + r.int(maxLength - MIN_STRING_LENGTH);
  let s = "";
  while (len-- > 0) s += r.int(13) === 0 ? special : LETTERS[r.int(26)];
  return special === " " ? s.trim() : s;
}

let reusableExtra: string | undefined;
/** Nexmark's REUSABLE_EXTRA_STRING: 1 MiB of letters that `extra` fields are cut from (fixed here, random per JVM there). */
function extraString(): string {
  if (reusableExtra === undefined) {
    const r = new EventRandom().reset(0x4e65786d, 1, 1);
    const bytes = Buffer.allocUnsafe(1024 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = 97 + r.int(26);
    reusableExtra = bytes.toString("latin1");
  }
  return reusableExtra;
}

function nextExactString(r: EventRandom, length: number): string {
  const extra = extraString();
  if (length < extra.length / 2) {
    const offset = r.int(extra.length - length);
    return extra.substring(offset, offset + length);
  }
  let s = "";
  while (length-- > 0) s += LETTERS[r.int(26)];
  return s;
}

/** A string making `currentSize + length` about `desiredAverageSize` (within ±20%). */
function nextExtra(r: EventRandom, currentSize: number, desiredAverageSize: number): string {
  if (currentSize > desiredAverageSize) return "";
  desiredAverageSize -= currentSize;
  const delta = Math.round(desiredAverageSize * 0.2);
  const minSize = desiredAverageSize - delta;
  const desiredSize = minSize + (delta === 0 ? 0 : r.int(2 * delta));
  return nextExactString(r, desiredSize);
}

const LN_1E6 = 6 * Math.LN10;
/** PriceGenerator.nextPrice, round(10^(6u) * 100): log-uniform over [100, 100'000'000]. (exp is faster than pow here.) */
function nextPrice(r: EventRandom): number {
  return Math.round(Math.exp(r.double() * LN_1E6) * 100.0);
}

// --- Fixed tables (built once, from a fixed seed) -------------------------------------------------

interface Tables {
  creditCardStrings: string[];
  hotUrls: string[];
  channelNames: string[];
  channelUrls: string[];
}
let tables: Tables | undefined;

function baseUrl(r: EventRandom): string {
  return `https://www.nexmark.com/${nextString(r, 5, "_")}/${nextString(r, 5, "_")}/${nextString(r, 5, "_")}/item.htm?query=1`;
}

/** Java's Math.abs(Integer.reverse(i)) (which leaves Integer.MIN_VALUE negative). */
function absReverse32(i: number): number {
  let v = i >>> 0;
  let rev = 0;
  for (let b = 0; b < 32; b++) {
    rev = (rev << 1) | (v & 1);
    v >>>= 1;
  }
  rev |= 0;
  return rev === -2147483648 ? rev : Math.abs(rev);
}

function getTables(): Tables {
  if (tables === undefined) {
    const r = new EventRandom().reset(0x4e65786d, 2, 1);
    const creditCardStrings = Array.from({ length: 10_000 }, (_, i) => String(i).padStart(4, "0"));
    const hotUrls = HOT_CHANNELS.map(() => baseUrl(r));
    const channelNames: string[] = [];
    const channelUrls: string[] = [];
    for (let i = 0; i < CHANNELS_NUMBER; i++) {
      let url = baseUrl(r);
      if (r.int(10) > 0) url = `${url}&channel_id=${absReverse32(i)}`;
      channelNames.push(`channel-${i}`);
      channelUrls.push(url);
    }
    tables = { creditCardStrings, hotUrls, channelNames, channelUrls };
  }
  return tables;
}

// --- Id arithmetic (PersonGenerator / AuctionGenerator) -------------------------------------------

type Proportions = Pick<NexmarkConfig, "personProportion" | "auctionProportion" | "bidProportion">;

function totalProportion(c: Proportions): number {
  return c.personProportion + c.auctionProportion + c.bidProportion;
}

/** The type of the event with this event id. */
export function eventTypeOf(c: Proportions, eventId: number): EventType {
  const rem = eventId % totalProportion(c);
  return rem < c.personProportion ? PERSON : rem < c.personProportion + c.auctionProportion ? AUCTION : BID;
}

/** The last person id (base 0) generated at or before this event id: the new person's, for a person event. */
export function lastBase0PersonId(c: Proportions, eventId: number): number {
  const total = totalProportion(c);
  const epoch = Math.floor(eventId / total);
  let offset = eventId % total;
  if (offset >= c.personProportion) offset = c.personProportion - 1;
  return epoch * c.personProportion + offset;
}

/** The last auction id (base 0) generated at or before this event id: the new auction's, for an auction event. -1 before the first. */
export function lastBase0AuctionId(c: Proportions, eventId: number): number {
  const total = totalProportion(c);
  let epoch = Math.floor(eventId / total);
  let offset = eventId % total;
  if (offset < c.personProportion) {
    epoch--;
    offset = c.auctionProportion - 1;
  } else if (offset >= c.personProportion + c.auctionProportion) {
    offset = c.auctionProportion - 1;
  } else {
    offset -= c.personProportion;
  }
  return epoch * c.auctionProportion + offset;
}

/** A random active person (base 0): one of the last numActivePeople, or up to PERSON_ID_LEAD not created yet. */
function nextBase0PersonId(c: NexmarkConfig, eventId: number, r: EventRandom): number {
  const numPeople = lastBase0PersonId(c, eventId) + 1;
  const activePeople = Math.min(numPeople, c.numActivePeople);
  return numPeople - activePeople + r.int(activePeople + PERSON_ID_LEAD);
}

/** A random in-flight auction (base 0): one of the last numInFlightAuctions, or up to AUCTION_ID_LEAD not created yet. */
function nextBase0AuctionId(c: NexmarkConfig, eventId: number, r: EventRandom): number {
  const maxAuction = lastBase0AuctionId(c, eventId);
  const minAuction = Math.max(maxAuction - c.numInFlightAuctions, 0);
  return minAuction + r.int(maxAuction - minAuction + 1 + AUCTION_ID_LEAD);
}

// --- The generator --------------------------------------------------------------------------------

/** Generates Nexmark events by position; one instance reuses one PRNG, so it is not re-entrant. */
export class NexmarkGenerator {
  readonly config: NexmarkConfig;
  /** Number of events in the stream (Infinity when unbounded). */
  readonly maxEvents: number;
  private readonly random = new EventRandom();
  private readonly jitterRandom = new EventRandom();
  private readonly total: number;
  /** Events between an auction and the one numInFlightAuctions later (nextAuctionLengthMs). */
  private readonly numEventsForAuctions: number;

  constructor(config: Partial<NexmarkConfig> = {}) {
    this.config = nexmarkConfig(config);
    this.maxEvents = this.config.maxEvents ?? Number.POSITIVE_INFINITY;
    this.total = totalProportion(this.config);
    this.numEventsForAuctions = Math.floor((this.config.numInFlightAuctions * this.total) / this.config.auctionProportion);
  }

  /** Event n's timestamp before jitter: baseTime + floor(n * 1000 / eventsPerSecond). Non-decreasing in n. */
  baseTimestamp(n: number): number {
    return this.config.baseTime + Math.floor((n * 1000) / this.config.eventsPerSecond);
  }

  /** Event n's timestamp (its dateTime): baseTimestamp(n) minus its jitter. */
  timestamp(n: number): number {
    const base = this.baseTimestamp(n);
    const ooo = this.config.outOfOrdernessMs;
    if (ooo === 0) return base;
    return base - this.jitterRandom.reset(this.config.seed, this.config.firstEventId + n, 1).int(ooo + 1);
  }

  eventType(n: number): EventType {
    return eventTypeOf(this.config, this.config.firstEventId + n);
  }

  /** Event n (0-based position in the stream). */
  event(n: number): Event {
    const eventId = this.config.firstEventId + n;
    const rem = eventId % this.total;
    const r = this.random.reset(this.config.seed, eventId);
    const ts = this.timestamp(n);
    if (rem < this.config.personProportion) return { type: PERSON, person: this.person(eventId, r, ts) };
    if (rem < this.config.personProportion + this.config.auctionProportion) return { type: AUCTION, auction: this.auction(n, eventId, r, ts) };
    return { type: BID, bid: this.bid(eventId, r, ts) };
  }

  private person(eventId: number, r: EventRandom, dateTime: number): Person {
    const c = this.config;
    const cards = getTables().creditCardStrings;
    const id = lastBase0PersonId(c, eventId) + FIRST_PERSON_ID;
    const name = `${FIRST_NAMES[r.int(FIRST_NAMES.length)]} ${LAST_NAMES[r.int(LAST_NAMES.length)]}`;
    const emailAddress = `${nextString(r, 7)}@${nextString(r, 5)}.com`;
    const creditCard = `${cards[r.int(10_000)]} ${cards[r.int(10_000)]} ${cards[r.int(10_000)]} ${cards[r.int(10_000)]}`;
    const city = US_CITIES[r.int(US_CITIES.length)]!;
    const state = US_STATES[r.int(US_STATES.length)]!;
    const currentSize = 8 + name.length + emailAddress.length + creditCard.length + city.length + state.length;
    const extra = nextExtra(r, currentSize, c.avgPersonByteSize);
    return { id, name, emailAddress, creditCard, city, state, dateTime, extra };
  }

  private auction(n: number, eventId: number, r: EventRandom, dateTime: number): Auction {
    const c = this.config;
    const id = lastBase0AuctionId(c, eventId) + FIRST_AUCTION_ID;
    let seller: number;
    if (r.int(c.hotSellersRatio) > 0) seller = Math.floor(lastBase0PersonId(c, eventId) / HOT_SELLER_BATCH) * HOT_SELLER_BATCH;
    else seller = nextBase0PersonId(c, eventId, r);
    seller += FIRST_PERSON_ID;
    const category = FIRST_CATEGORY_ID + r.int(c.numCategories);
    const initialBid = nextPrice(r);
    // nextAuctionLengthMs: on average as long as it takes to generate numInFlightAuctions more auctions.
    const horizonMs = this.baseTimestamp(n + this.numEventsForAuctions) - this.baseTimestamp(n);
    const expires = dateTime + 1 + r.int(Math.max(horizonMs * 2, 1));
    const itemName = nextString(r, 20);
    const description = nextString(r, 100);
    const reserve = initialBid + nextPrice(r);
    const currentSize = 8 + itemName.length + description.length + 8 + 8 + 8 + 8 + 8;
    const extra = nextExtra(r, currentSize, c.avgAuctionByteSize);
    return { id, itemName, description, initialBid, reserve, dateTime, expires, seller, category, extra };
  }

  private bid(eventId: number, r: EventRandom, dateTime: number): Bid {
    const c = this.config;
    const t = getTables();
    let auction: number;
    if (r.int(c.hotAuctionRatio) > 0) auction = Math.floor(lastBase0AuctionId(c, eventId) / HOT_AUCTION_BATCH) * HOT_AUCTION_BATCH;
    else auction = nextBase0AuctionId(c, eventId, r);
    auction += FIRST_AUCTION_ID;
    let bidder: number;
    // The second person of the batch, so that hot bidders and hot sellers differ.
    if (r.int(c.hotBiddersRatio) > 0) bidder = Math.floor(lastBase0PersonId(c, eventId) / HOT_BIDDER_BATCH) * HOT_BIDDER_BATCH + 1;
    else bidder = nextBase0PersonId(c, eventId, r);
    bidder += FIRST_PERSON_ID;
    const price = nextPrice(r);
    let channel: string;
    let url: string;
    if (r.int(HOT_CHANNELS_RATIO) > 0) {
      const i = r.int(HOT_CHANNELS.length);
      channel = HOT_CHANNELS[i]!;
      url = t.hotUrls[i]!;
    } else {
      const i = r.int(CHANNELS_NUMBER);
      channel = t.channelNames[i]!;
      url = t.channelUrls[i]!;
    }
    const extra = nextExtra(r, 8 + 8 + 8 + 8, c.avgBidByteSize);
    return { auction, bidder, price, channel, url, dateTime, extra };
  }
}

/** Events [from, to) of the stream (`to` is capped at maxEvents). */
export function generateEvents(config: Partial<NexmarkConfig>, from: number, to: number): Event[] {
  const gen = new NexmarkGenerator(config);
  const end = Math.min(to, gen.maxEvents);
  const out: Event[] = [];
  for (let n = Math.max(0, from); n < end; n++) out.push(gen.event(n));
  return out;
}
