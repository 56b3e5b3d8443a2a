/**
 * @riffle/kafka-broker — a single-node Kafka-wire-protocol broker for Riffle's tests and local demos
 * (`riffle dev kafka`). It is not a production Kafka: one node, no replication, no retention, no
 * security. Real clients (kafkajs, librdkafka through kcat) check it in e2e/kafka-broker.test.ts.
 *
 * ```ts
 * import { KafkaBroker } from "@riffle/kafka-broker";
 *
 * const broker = await KafkaBroker.start({ dataDir: "/tmp/riffle-kafka", port: 0 });
 * console.log(`bootstrap servers: ${broker.address}`);
 * await broker.close();
 * ```
 *
 * Or as a process: `node testing/kafka-broker/dist/main.js --port 0 --data-dir /tmp/k` prints
 * `READY <host>:<port>` once it accepts connections.
 */
export { KafkaBroker, type KafkaBrokerOptions } from "./broker.js";
export { ErrorCode, errorName } from "./protocol/errors.js";
export { parseBrokerArgs, BROKER_USAGE } from "./args.js";
