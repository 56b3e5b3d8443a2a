/**
 * Kafka → keyed count → Kafka, for the Kafka end-to-end tests: numbers (JSON) from topic --in, a count
 * per key (n % 100) in keyed state, and (key, count) written to topic --out by a KafkaSink with the
 * given guarantee, checkpointing every --interval ms.
 *
 * Every correct run writes the same multiset ((k, 1), (k, 2), ..., (k, n_k) for every key k), so the
 * committed output can be compared with a failure-free run exactly. Each record carries the attempt
 * of the subtask that counted it in a header `attempt`, which tells a zombie's writes from its
 * successor's.
 *
 *   args: --brokers host:port --in <topic> --out <topic> --prefix <transactional id prefix>
 *         [--bounded true] [--guarantee exactly-once] [--interval 500] [--discovery 0]
 *         [--backoff true: restarts with exponential back-off instead of a fixed delay]
 *         [--invalid <topic>: records that are not JSON go there instead of failing the job]
 */
import { OutputTag, type RuntimeContext, type StreamExecutionEnvironment } from "@riffle/sdk";
import { type DeliveryGuarantee, type InvalidKafkaRecord, KafkaSink, KafkaSource } from "@riffle/sdk/kafka";
import { CountPerKey } from "./exactly-once.js";

/** (key, count) → (key, count, attempt of this subtask). */
class TagAttempt {
  private attempt = 0;

  open(ctx: RuntimeContext): void {
    this.attempt = ctx.attempt ?? 0;
  }

  map([key, count]: [number, number]): [number, number, number] {
    return [key, count, this.attempt];
  }
}

export default function kafkaCount(env: StreamExecutionEnvironment): void {
  const brokers = env.param("brokers");
  env.enableCheckpointing(Number(env.param("interval", "500")));
  env.setRestartStrategy(
    env.param("backoff", "false") === "true"
      ? { type: "exponential-backoff", initialDelayMs: 200, maxDelayMs: 2000, multiplier: 2, resetAfterMs: 60_000 }
      : { type: "fixed-delay", attempts: 100, delayMs: 200 },
  );
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
    .map(new TagAttempt())
    .uid("tag-attempt")
    .sinkTo(
      KafkaSink.builder<[number, number, number]>()
        .bootstrapServers(brokers)
        .topic(env.param("out"))
        .deliveryGuarantee(env.param("guarantee", "exactly-once") as DeliveryGuarantee)
        .transactionalIdPrefix(env.param("prefix", env.param("out")))
        .recordSerializer(([key, count, attempt]) => ({ key: String(key), value: JSON.stringify([key, count]), headers: { attempt: String(attempt) } }))
        .build(),
    )
    .uid("kafka-out");
}
