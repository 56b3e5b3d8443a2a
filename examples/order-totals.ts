/**
 * The north-star job: orders from Kafka → event-time tumbling totals per customer → Kafka, exactly
 * once. Orders may arrive 30 s out of order; a partition without orders for a minute stops holding
 * the watermark back (idleness). Totals are written in Kafka transactions committed with each
 * checkpoint: read them with isolation.level=read_committed.
 *
 *   npx riffle dev kafka                                   # a test broker on 127.0.0.1:9092
 *   npx riffle run -p 2 --detached examples/order-totals.ts --window-seconds 10
 *   npx tsx examples/order-totals/generate-orders.ts --rate 200
 *   npx tsx examples/order-totals/print-totals.ts
 *
 *   args: --brokers <host:port> (127.0.0.1:9092) --orders <topic> (orders) --totals <topic> (order-totals)
 *         --window-seconds <n> (900) --checkpoint-ms <n> (10000) --idle-ms <n> (60000)
 */
import { type AggregateFunction, type StreamExecutionEnvironment, Time, TumblingEventTimeWindows, WatermarkStrategy } from "@riffle/sdk";
import { KafkaSink, KafkaSource } from "@riffle/sdk/kafka";

export interface Order {
  orderId: string;
  customerId: string;
  /** Amount in cents. */
  amount: number;
  /** Event time, epoch ms. */
  orderTime: number;
}

export interface Total {
  customerId: string;
  /** The window, epoch ms: [windowStart, windowEnd). */
  windowStart: number;
  windowEnd: number;
  orders: number;
  /** Cents. */
  amount: number;
}

export const orderTotalsAggregate: AggregateFunction<Order, { orders: number; amount: number }, { orders: number; amount: number }> = {
  createAccumulator: () => ({ orders: 0, amount: 0 }),
  add: (o, acc) => ({ orders: acc.orders + 1, amount: acc.amount + o.amount }),
  getResult: (acc) => acc,
  merge: (a, b) => ({ orders: a.orders + b.orders, amount: a.amount + b.amount }),
};

export default function orderTotals(env: StreamExecutionEnvironment): void {
  const brokers = env.param("brokers", "127.0.0.1:9092");
  env.enableCheckpointing(Number(env.param("checkpoint-ms", "10000")));
  env
    .fromSource(
      KafkaSource.builder<Order>().bootstrapServers(brokers).topics(env.param("orders", "orders")).groupId("order-totals").json().build(),
      WatermarkStrategy.forBoundedOutOfOrderness<Order>(30_000)
        .withTimestampAssigner((o) => o.orderTime)
        .withIdleness(Number(env.param("idle-ms", "60000"))),
      "orders",
    )
    .uid("orders")
    .keyBy((o) => o.customerId)
    .window(TumblingEventTimeWindows.of(Time.seconds(Number(env.param("window-seconds", "900")))))
    .aggregate(orderTotalsAggregate, (customerId: string, ctx, results: { orders: number; amount: number }[], out) => {
      const r = results[0]!;
      out.collect({ customerId, windowStart: ctx.window.start, windowEnd: ctx.window.end, orders: r.orders, amount: r.amount } satisfies Total);
    })
    .name("totals")
    .uid("totals")
    .sinkTo(
      KafkaSink.builder<Total>()
        .bootstrapServers(brokers)
        .topic(env.param("totals", "order-totals"))
        .keySerializer((t) => t.customerId)
        .exactlyOnce("order-totals")
        .json()
        .build(),
    )
    .uid("totals-sink");
}
