/**
 * Kafka → keyed count → Kafka, for the Kafka end-to-end tests: numbers (JSON) from topic --in, a count
 * per key (n % 100) in keyed state, and (key, count) written to topic --out by a KafkaSink with the
 * given guarantee, checkpointing every --interval ms.
 *
 * Every correct run writes the same multiset ((k, 1), (k, 2), ..., (k, n_k) for every key k), so the
 * committed output can be compared with a failure-free run exactly.
 *
 *   args: --brokers host:port --in <topic> --out <topic> --prefix <transactional id prefix>
 *         [--bounded true] [--guarantee exactly-once] [--interval 500] [--discovery 0]
 *         [--invalid <topic>: records that are not JSON go there instead of failing the job]
 */
import { OutputTag, type StreamExecutionEnvironment } from "@riffle/sdk";
import { type DeliveryGuarantee, type InvalidKafkaRecord, KafkaSink, KafkaSource } from "@riffle/sdk/kafka";
import { CountPerKey } from "./exactly-once.js";

export default function kafkaCount(env: StreamExecutionEnvironment): void {
  const brokers = env.param("brokers");
  env.enableCheckpointing(Number(env.param("interval", "500")));
  env.setRestartStrategy({ type: "fixed-delay", attempts: 100, delayMs: 200 });
  const source = KafkaSource.builder<number>()
    .bootstrapServers(brokers)
    .topics(env.param("in"))
    .groupId(`count-${env.param("out")}`)
    .partitionDiscoveryInterval(Number(env.param("discovery", "0")))
    .json();
  if (env.param("bounded", "false") === "true") source.bounded();
  const invalid = new OutputTag<InvalidKafkaRecord>("invalid");
  const invalidTopic = env.param("invalid", "");
  if (invalidTopic) source.skipInvalidRecords(invalid);
  const numbers = env.fromSource(source.build(), "numbers").uid("numbers");
  if (invalidTopic) {
    numbers
      .getSideOutput(invalid)
      .sinkTo(KafkaSink.builder<InvalidKafkaRecord>().bootstrapServers(brokers).topic(invalidTopic).json().build())
      .uid("invalid-out");
  }
  numbers
    .keyBy((n) => n % 100)
    .process(new CountPerKey())
    .uid("count-per-key")
    .sinkTo(
      KafkaSink.builder<[number, number]>()
        .bootstrapServers(brokers)
        .topic(env.param("out"))
        .deliveryGuarantee(env.param("guarantee", "exactly-once") as DeliveryGuarantee)
        .transactionalIdPrefix(env.param("prefix", env.param("out")))
        .keySerializer(([k]) => String(k))
        .json()
        .build(),
    )
    .uid("kafka-out");
}
