/**
 * A two-input keyed operator under failures: two bounded datagen streams of out-of-order events,
 * orders and payments, each with its own watermarks → an interval join on the customer key (keyed
 * MapState buffers on both inputs, cleanup timers on the joined watermark) → the exactly-once file
 * sink, checkpointing every 500 ms. Barriers align across both inputs of the join. No element is
 * ever late (the watermarks trail by the generators' own jitter bound), so the joined pairs are a
 * pure function of the input: committed output compares exactly with a failure-free run and with a
 * brute-force join.
 *
 *   orders   ─keyBy(customer)─┐
 *                             ├─► intervalJoin between(LOWER_MS, UPPER_MS) ─► "order payment" lines
 *   payments ─keyBy(customer)─┘
 *
 *   args: --out <dir> --count <events per stream> --rate <events/s per stream, 0 = unlimited>
 */
import { type StreamExecutionEnvironment, WatermarkStrategy } from "@riffle/sdk";

export const CUSTOMERS = 100;
/** Events per second of event time, in each stream. */
export const EVENTS_PER_SECOND = 1_000;
export const OUT_OF_ORDERNESS_MS = 300;
/** A payment pairs with an order of the same customer from 200 ms after it to 300 ms before it. */
export const LOWER_MS = -200;
export const UPPER_MS = 300;
/** Seeds of the two generators: the streams differ, and each event is a pure function of (seed, index). */
const ORDER_SEED = 0x5eed01;
const PAYMENT_SEED = 0x5eed02;

export interface Order {
  id: number;
  customer: number;
  time: number;
}

export interface Payment {
  id: number;
  customer: number;
  time: number;
}

/** A 32-bit hash of (seed, index): murmur3's finaliser. */
function hash(seed: number, i: number): number {
  let h = Math.imul(seed ^ i, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Event time advances 1 s per EVENTS_PER_SECOND events, lowered by a jitter below the bound. */
function timeOf(seed: number, i: number): number {
  return Math.max(0, Math.floor((i * 1000) / EVENTS_PER_SECOND) - (hash(seed, i) % OUT_OF_ORDERNESS_MS));
}

export function order(i: number): Order {
  return { id: i, customer: hash(ORDER_SEED, i + 0x10000000) % CUSTOMERS, time: timeOf(ORDER_SEED, i) };
}

export function payment(i: number): Payment {
  return { id: i, customer: hash(PAYMENT_SEED, i + 0x10000000) % CUSTOMERS, time: timeOf(PAYMENT_SEED, i) };
}

export default function intervalJoinExactlyOnce(env: StreamExecutionEnvironment): void {
  const count = Number(env.param("count"));
  const rate = Number(env.param("rate", "0"));
  const limit = rate > 0 ? { ratePerSecond: rate } : {};
  env.enableCheckpointing(500);
  env.setStateBackend("leveldb");
  env.setRestartStrategy({ type: "fixed-delay", attempts: 100, delayMs: 200 });
  env.setAutoWatermarkInterval(50);
  const orders = env
    .datagen({ count, ...limit, generator: order })
    .uid("orders")
    .assignTimestampsAndWatermarks(WatermarkStrategy.forBoundedOutOfOrderness<Order>(OUT_OF_ORDERNESS_MS).withTimestampAssigner((o) => o.time))
    .uid("order-timestamps");
  const payments = env
    .datagen({ count, ...limit, generator: payment })
    .uid("payments")
    .assignTimestampsAndWatermarks(WatermarkStrategy.forBoundedOutOfOrderness<Payment>(OUT_OF_ORDERNESS_MS).withTimestampAssigner((p) => p.time))
    .uid("payment-timestamps");
  orders
    .keyBy((o: Order) => o.customer)
    .intervalJoin(payments.keyBy((p: Payment) => p.customer))
    .between(LOWER_MS, UPPER_MS)
    .process((o: Order, p: Payment, _ctx, out) => out.collect(`${o.id} ${p.id}`))
    .uid("join")
    .writeExactlyOnce(env.param("out"))
    .uid("files");
}
