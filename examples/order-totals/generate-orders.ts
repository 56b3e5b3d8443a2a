/**
 * Writes orders to Kafka for examples/order-totals.ts: `--rate` orders per second (event time now,
 * some up to 20 s late), from 50 customers, keyed by customer, until Ctrl-C or `--count` orders.
 * First it creates the orders topic and the job's output topic (the job's exactly-once sink does not
 * create topics), those that do not exist yet.
 *
 *   npx tsx examples/order-totals/generate-orders.ts [--brokers 127.0.0.1:9092] [--topic orders] [--totals order-totals] [--rate 100] [--count 0]
 */
import { parseArgs } from "node:util";
import { Kafka, logLevel } from "kafkajs";
import type { Order } from "../order-totals.js";

const { values } = parseArgs({
  options: {
    brokers: { type: "string", default: "127.0.0.1:9092" },
    topic: { type: "string", default: "orders" },
    totals: { type: "string", default: "order-totals" },
    rate: { type: "string", default: "100" },
    count: { type: "string", default: "0" },
    partitions: { type: "string", default: "4" },
  },
});
const rate = Number(values.rate);
const count = Number(values.count);
if (!(rate > 0) || !(count >= 0)) {
  console.error("--rate must be > 0 and --count >= 0");
  process.exit(2);
}

const kafka = new Kafka({ brokers: values.brokers.split(","), clientId: "order-generator", logLevel: logLevel.ERROR });
const admin = kafka.admin();
await admin.connect();
// Created with several partitions if they do not exist yet (the job reads them in parallel).
await admin.createTopics({
  topics: [
    { topic: values.topic, numPartitions: Number(values.partitions) },
    { topic: values.totals, numPartitions: 2 },
  ],
});
await admin.disconnect();
const producer = kafka.producer({ idempotent: true });
await producer.connect();
let stopping = false;
process.on("SIGINT", () => {
  stopping = true;
});

let sent = 0;
const started = Date.now();
while (!stopping && (count === 0 || sent < count)) {
  // One batch every 100 ms, sized to keep the rate.
  const due = Math.floor(((Date.now() - started) / 1000) * rate) + 1 - sent;
  const n = count === 0 ? due : Math.min(due, count - sent);
  if (n > 0) {
    const messages = Array.from({ length: n }, (_, i) => {
      const id = sent + i;
      const late = id % 10 === 0 ? id % 20_000 : 0;
      const order: Order = { orderId: `o-${started}-${id}`, customerId: `c-${id % 50}`, amount: 100 + ((id * 7919) % 10_000), orderTime: Date.now() - late };
      return { key: order.customerId, value: JSON.stringify(order) };
    });
    await producer.send({ topic: values.topic, messages, acks: -1 });
    sent += n;
  }
  await new Promise((r) => setTimeout(r, 100));
}
await producer.disconnect();
console.log(`${sent} orders written to ${values.topic}`);
