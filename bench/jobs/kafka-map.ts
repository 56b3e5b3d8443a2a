/**
 * Kafka → map → Kafka for bench/kafka-connectors.ts: text records from --in, upper-cased, written to
 * --out with the given delivery guarantee, checkpointing every --interval ms. Bounded (--bounded
 * true): the job ends once it read what the topic held at its start.
 *
 *   args: --brokers host:port --in <topic> --out <topic> --guarantee at-least-once|exactly-once
 *         [--interval 1000] [--bounded true]
 */
import type { StreamExecutionEnvironment } from "@riffle/sdk";
import { type DeliveryGuarantee, KafkaSink, KafkaSource } from "@riffle/sdk/kafka";

export default function kafkaMap(env: StreamExecutionEnvironment): void {
  const brokers = env.param("brokers");
  env.enableCheckpointing(Number(env.param("interval", "1000")));
  const source = KafkaSource.builder<string>().bootstrapServers(brokers).topics(env.param("in")).string();
  if (env.param("bounded", "true") === "true") source.bounded();
  const out = env.param("out");
  env
    .fromSource(source.build(), "in")
    .map((s) => s.toUpperCase())
    .sinkTo(
      KafkaSink.builder<string>()
        .bootstrapServers(brokers)
        .topic(out)
        .deliveryGuarantee(env.param("guarantee") as DeliveryGuarantee)
        .transactionalIdPrefix(out)
        .string()
        .build(),
    );
}
