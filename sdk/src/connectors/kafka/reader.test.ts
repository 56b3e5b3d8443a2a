import { createRequire } from "node:module";
import { createLogger } from "@riffle/shared";
import { KafkaJSProtocolError } from "kafkajs";
import { describe, expect, it } from "vitest";
import type { ReaderOutput, SourceReaderContext } from "../../api/source.js";
import type { KafkaCluster } from "./client.js";
import { KafkaSource } from "./index.js";
import { KafkaSourceReader } from "./reader.js";

// kafkajs's own table of the broker's error codes names these errors, as it does a broker's answers.
const { createErrorFromCode } = createRequire(import.meta.url)("kafkajs/src/protocol/error") as { createErrorFromCode(code: number): never };

const ctx: SourceReaderContext = {
  jobId: "j",
  jobName: "reader",
  taskName: "numbers",
  subtaskIndex: 0,
  parallelism: 1,
  maxParallelism: 128,
  args: [],
  log: createLogger("test"),
  metrics: { counter: () => ({ inc() {} }), gauge() {} },
  sendSplitRequest() {},
  sendSourceEventToCoordinator() {},
};

/** A cluster of one partition "t"/0 holding two records, whose fetches answer `errors` (broker error codes) first. */
function cluster(errors: number[]): { cluster: KafkaCluster; fetches: () => number; refreshes: () => number } {
  let fetches = 0;
  let refreshes = 0;
  const c = {
    connect: async () => {},
    disconnect: async () => {},
    addMultipleTargetTopics: async () => {},
    refreshMetadata: async () => void refreshes++,
    findTopicPartitionMetadata: () => [{ partitionId: 0, leader: 1 }],
    findBroker: async () => ({
      fetch: async (req: { topics: Array<{ partitions: Array<{ fetchOffset: string }> }> }) => {
        fetches++;
        const error = errors.shift();
        if (error !== undefined) throw new KafkaJSProtocolError(createErrorFromCode(error));
        const from = Number(req.topics[0]!.partitions[0]!.fetchOffset);
        const messages = [0, 1]
          .filter((o) => o >= from)
          .map((o) => ({ offset: String(o), timestamp: "0", key: null, value: Buffer.from(String(o)), headers: {} }));
        return {
          responses: [
            { topicName: "t", partitions: [{ partition: 0, errorCode: 0, highWatermark: "2", lastStableOffset: "2", abortedTransactions: [], messages }] },
          ],
        };
      },
    }),
  } as unknown as KafkaCluster;
  return { cluster: c, fetches: () => fetches, refreshes: () => refreshes };
}

async function readAll(errors: number[]): Promise<{ records: string[]; fetches: number; refreshes: number }> {
  const source = KafkaSource.builder<string>().bootstrapServers("127.0.0.1:1").topics("t").groupId("g").string().bounded().build();
  const c = cluster(errors);
  const reader = new KafkaSourceReader<string>(ctx, source.settings, (r) => r.value!.toString(), undefined, c.cluster);
  const records: string[] = [];
  const output: ReaderOutput<string> = {
    collect: (r) => void records.push(r),
    collectWithTimestamp: (r) => void records.push(r),
    emitWatermark() {},
    markIdle() {},
    markActive() {},
    createOutputForSplit: () => output,
    releaseOutputForSplit() {},
    output() {},
  };
  await reader.start();
  reader.addSplits([{ splitId: "t-0", topic: "t", partition: 0, offset: 0, stoppingOffset: 2 }]);
  reader.notifyNoMoreSplits?.();
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = reader.pollNext(output, 10);
      if (r === "END_OF_INPUT") break;
      if (Date.now() > deadline) throw new Error(`read ${records.length} records`);
      if (r === "NOTHING_AVAILABLE") await reader.isAvailable();
    }
  } finally {
    await reader.close();
  }
  return { records, fetches: c.fetches(), refreshes: c.refreshes() };
}

describe("Kafka source reader", () => {
  it("fetches again from the leader the refreshed metadata names when a leader moved (NOT_LEADER_OR_FOLLOWER) or is being elected", async () => {
    // 6 NOT_LEADER_OR_FOLLOWER, 5 LEADER_NOT_AVAILABLE.
    const { records, fetches, refreshes } = await readAll([6, 5]);
    expect(records).toEqual(["0", "1"]);
    expect(fetches).toBe(3);
    expect(refreshes).toBe(2);
  });

  it("fails on a fetch error a retry cannot mend, saying so", async () => {
    // 29 TOPIC_AUTHORIZATION_FAILED.
    await expect(readAll([29])).rejects.toMatchObject({ message: expect.stringContaining("the Kafka source could not fetch") });
  });
});
