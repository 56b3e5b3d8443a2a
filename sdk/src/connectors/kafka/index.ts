/**
 * Kafka connectors (`@riffle/sdk/kafka`), on kafkajs:
 *
 * ```ts
 * env.fromSource(
 *   KafkaSource.builder<Order>().bootstrapServers("kafka:9092").topics("orders").groupId("totals").json().build(),
 *   WatermarkStrategy.forBoundedOutOfOrderness<Order>(30_000).withTimestampAssigner((o) => o.orderTime).withIdleness(60_000),
 *   "orders",
 * );
 * stream.sinkTo(KafkaSink.builder<Total>().bootstrapServers("kafka:9092").topic("totals").exactlyOnce("order-totals").json().build());
 * ```
 *
 * KafkaSource: a split enumerator in the JobManager assigns partitions to readers; offsets live in
 * checkpoints. KafkaSink: none, at-least-once or exactly-once (Kafka transactions committed with the
 * checkpoint). See decision record 0012.
 */
export { KafkaSource, KafkaSourceBuilder, type KafkaRecord, type InvalidKafkaRecord, type KafkaDeserializer, type KafkaSourceSettings } from "./source.js";
export { KafkaSink, KafkaSinkBuilder, type DeliveryGuarantee, type KafkaProducerRecord, type KafkaSinkSettings } from "./sink.js";
export { OffsetsInitializer, type StartingOffsets, type KafkaPartitionSplit } from "./split.js";
export type { KafkaTransaction } from "./producer.js";
export type { KafkaEnumeratorState } from "./enumerator.js";
