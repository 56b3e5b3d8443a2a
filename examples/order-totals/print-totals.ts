/**
 * Prints the totals examples/order-totals.ts commits, as a read_committed consumer sees them (records
 * of open or aborted transactions stay invisible), until Ctrl-C.
 *
 *   npx tsx examples/order-totals/print-totals.ts [--brokers 127.0.0.1:9092] [--topic order-totals]
 */
import { parseArgs } from "node:util";
import { Kafka, logLevel } from "kafkajs";
import type { Total } from "../order-totals.js";

const { values } = parseArgs({
  options: {
    brokers: { type: "string", default: "127.0.0.1:9092" },
    topic: { type: "string", default: "order-totals" },
  },
});

const kafka = new Kafka({ brokers: values.brokers.split(","), clientId: "print-totals", logLevel: logLevel.ERROR });
const consumer = kafka.consumer({ groupId: `print-totals-${process.pid}`, readUncommitted: false });
await consumer.connect();
await consumer.subscribe({ topic: values.topic, fromBeginning: true });
process.on("SIGINT", () => void consumer.disconnect().then(() => process.exit(0)));
await consumer.run({
  eachMessage: async ({ message }) => {
    const t = JSON.parse(message.value!.toString()) as Total;
    const window = `${new Date(t.windowStart).toISOString().slice(11, 19)}–${new Date(t.windowEnd).toISOString().slice(11, 19)}`;
    console.log(`${window}  ${t.customerId.padEnd(5)}  ${String(t.orders).padStart(4)} orders  ${(t.amount / 100).toFixed(2).padStart(10)}`);
  },
});
