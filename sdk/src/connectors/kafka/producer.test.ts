import { createRequire } from "node:module";
import { KafkaJSProtocolError } from "kafkajs";
import { describe, expect, it } from "vitest";
import type { KafkaBroker, KafkaCluster } from "./client.js";
import { atCoordinator, initProducerId, ProtocolProducer } from "./producer.js";

// kafkajs's own table of the broker's error codes names these errors, as it does a broker's answers.
const { createErrorFromCode } = createRequire(import.meta.url)("kafkajs/src/protocol/error") as { createErrorFromCode(code: number): never };
const protocolError = (code: number) => new KafkaJSProtocolError(createErrorFromCode(code));

/** Coordinators answering in turn: an error code, or success. */
function coordinators(answers: Array<number | "ok">): { cluster: KafkaCluster; found: () => number } {
  let found = 0;
  const cluster = {
    findGroupCoordinator: async () => {
      const answer = answers[found++];
      return {
        initProducerId: async () => {
          if (answer !== "ok") throw protocolError(answer!);
          return { producerId: 7, producerEpoch: 3 };
        },
      } as unknown as KafkaBroker;
    },
  } as unknown as KafkaCluster;
  return { cluster, found: () => found };
}

describe("requests to a transaction coordinator", () => {
  it("are sent again, to the coordinator found anew, while it moved (NOT_COORDINATOR), is unavailable or loading", async () => {
    // 16 NOT_COORDINATOR, 15 COORDINATOR_NOT_AVAILABLE, 14 COORDINATOR_LOAD_IN_PROGRESS, 51 CONCURRENT_TRANSACTIONS.
    const { cluster, found } = coordinators([16, 15, 14, 51, "ok"]);
    expect(await initProducerId(cluster, "t-0-1", 60_000, ["a:1"])).toEqual({ producerId: 7, producerEpoch: 3 });
    expect(found()).toBe(5);
  });

  it("fail at once on an error a retry cannot mend", async () => {
    // 47 INVALID_PRODUCER_EPOCH.
    const { cluster, found } = coordinators([47, "ok"]);
    await expect(atCoordinator(cluster, "t-0-1", (c) => c.initProducerId({ transactionalId: "t-0-1", transactionTimeout: 1 }))).rejects.toMatchObject({
      type: "INVALID_PRODUCER_EPOCH",
    });
    expect(found()).toBe(1);
  });
});

describe("produce requests", () => {
  it("go again, after a metadata refresh and with the same sequence numbers, to the partition whose leader moved (NOT_LEADER_OR_FOLLOWER)", async () => {
    const requests: Array<{ partition: number; firstSequence: number; records: number }[]> = [];
    let refreshed = 0;
    const answers: Array<number | "ok"> = [6, "ok", "ok"]; // 6 NOT_LEADER_OR_FOLLOWER
    const cluster = {
      addMultipleTargetTopics: async () => {},
      refreshMetadata: async () => void refreshed++,
      findTopicPartitionMetadata: () => [{ partitionId: 0, leader: 1 }],
      findBroker: async () => ({
        produce: async (req: { topicData: Array<{ partitions: Array<{ partition: number; firstSequence: number; messages: unknown[] }> }> }) => {
          requests.push(req.topicData[0]!.partitions.map((p) => ({ partition: p.partition, firstSequence: p.firstSequence, records: p.messages.length })));
          const answer = answers.shift();
          if (answer !== "ok") throw protocolError(answer!);
        },
      }),
    } as unknown as KafkaCluster;
    const producer = new ProtocolProducer(cluster, { producerId: 1, producerEpoch: 0 }, ["a:1"]);
    const record = (v: string) => ({ topic: "t", partition: 0, key: null, value: Buffer.from(v), timestamp: 0 });
    await producer.send([record("a"), record("b")]);
    await producer.send([record("c")]);
    expect(requests).toEqual([
      [{ partition: 0, firstSequence: 0, records: 2 }],
      [{ partition: 0, firstSequence: 0, records: 2 }],
      [{ partition: 0, firstSequence: 2, records: 1 }],
    ]);
    expect(refreshed).toBe(1);
  });

  it("fail on an error a retry cannot mend", async () => {
    const cluster = {
      addMultipleTargetTopics: async () => {},
      refreshMetadata: async () => {},
      findTopicPartitionMetadata: () => [{ partitionId: 0, leader: 1 }],
      findBroker: async () => ({
        produce: async () => {
          throw protocolError(47); // INVALID_PRODUCER_EPOCH
        },
      }),
    } as unknown as KafkaCluster;
    const producer = new ProtocolProducer(cluster, { producerId: 1, producerEpoch: 0 }, ["a:1"]);
    await expect(producer.send([{ topic: "t", partition: 0, key: null, value: null, timestamp: 0 }])).rejects.toMatchObject({ type: "INVALID_PRODUCER_EPOCH" });
  });
});
