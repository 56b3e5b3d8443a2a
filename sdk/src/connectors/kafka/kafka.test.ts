import { describe, expect, it } from "vitest";
import { StreamExecutionEnvironment } from "../../api/environment.js";
import { type BuildOptions, buildJobGraph } from "../../graph/build.js";
import { KafkaSink, KafkaSource, OffsetsInitializer } from "./index.js";
import { ownerOf } from "./split.js";

describe("KafkaSource builder", () => {
  it("builds a bounded or unbounded source with the settings given", () => {
    const s = KafkaSource.builder<number>().bootstrapServers("a:1, b:2").topics("t").groupId("g").startingOffsets(OffsetsInitializer.latest()).json().build();
    expect(s.boundedness).toBe("unbounded");
    expect(s.settings).toMatchObject({
      client: { bootstrapServers: ["a:1", "b:2"] },
      topics: ["t"],
      groupId: "g",
      startingOffsets: { kind: "latest" },
      isolationLevel: "read_committed",
    });
    expect(KafkaSource.builder<string>().bootstrapServers("a:1").topicPattern(/^o/).string().bounded().build().boundedness).toBe("bounded");
  });

  it("refuses settings that cannot work, saying what is missing", () => {
    const code = { code: "KAFKA_CONFIG_INVALID" };
    expect(() => KafkaSource.builder().topics("t").json().build()).toThrow(
      expect.objectContaining({ ...code, message: expect.stringMatching(/bootstrapServers/) }),
    );
    expect(() => KafkaSource.builder().bootstrapServers("a:1").json().build()).toThrow(expect.objectContaining({ message: expect.stringMatching(/topics/) }));
    expect(() => KafkaSource.builder().bootstrapServers("a:1").topics("t").build()).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/deserializer/) }),
    );
    expect(() => KafkaSource.builder().bootstrapServers("nohost").topics("t").json().build()).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/host:port/) }),
    );
    expect(() => KafkaSource.builder().bootstrapServers("a:1").topics("t").startingOffsets(OffsetsInitializer.committedOffsets()).json().build()).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/groupId/) }),
    );
  });
});

describe("KafkaSink builder", () => {
  it("needs a transactional id prefix for exactly-once, and a topic and serializer", () => {
    expect(() => KafkaSink.builder().bootstrapServers("a:1").topic("t").json().deliveryGuarantee("exactly-once").build()).toThrow(
      expect.objectContaining({ code: "KAFKA_CONFIG_INVALID", message: expect.stringMatching(/transactionalIdPrefix/) }),
    );
    expect(() => KafkaSink.builder().bootstrapServers("a:1").json().build()).toThrow(expect.objectContaining({ message: expect.stringMatching(/topic/) }));
    expect(() => KafkaSink.builder().bootstrapServers("a:1").topic("t").build()).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/serializer/) }),
    );
    expect(() => KafkaSink.builder().bootstrapServers("a:1").topic("t").json().exactlyOnce("has space").build()).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/may hold only/) }),
    );
  });

  it("refuses a job whose checkpoint interval plus failure detection plus restart delay outlasts the transaction timeout", () => {
    const sink = KafkaSink.builder().bootstrapServers("a:1").topic("t").json().exactlyOnce("p").transactionTimeout(60_000).build();
    const cluster = { defaultRestartDelayMs: 60_000, failureDetectionMs: 10_000 };
    const fixed = { type: "fixed-delay", attempts: 3, delayMs: 10_000 } as const;
    expect(() => sink.validateJob({ checkpointIntervalMs: 30_000, restartStrategy: fixed, ...cluster })).not.toThrow();
    expect(() => sink.validateJob({ checkpointIntervalMs: 45_000, restartStrategy: fixed, ...cluster })).toThrow(
      expect.objectContaining({
        code: "KAFKA_CONFIG_INVALID",
        message: expect.stringContaining(
          "transaction timeout (60000 ms) is shorter than the checkpoint interval (45000 ms) plus the time to notice a lost TaskManager (10000 ms) plus the job's longest restart delay (10000 ms), 65000 ms",
        ),
      }),
    );
    // A job without a restart strategy of its own restarts by the cluster's default: exponential back-off up to its max delay.
    expect(() => sink.validateJob({ checkpointIntervalMs: 1_000, restartStrategy: undefined, ...cluster })).toThrow(
      expect.objectContaining({ message: expect.stringContaining("plus the cluster's default longest restart delay (60000 ms), 71000 ms") }),
    );
    expect(() =>
      sink.validateJob({ checkpointIntervalMs: 1_000, restartStrategy: undefined, defaultRestartDelayMs: 5_000, failureDetectionMs: 10_000 }),
    ).not.toThrow();
    const atLeastOnce = KafkaSink.builder().bootstrapServers("a:1").topic("t").json().transactionTimeout(1).build();
    expect(() => atLeastOnce.validateJob({ checkpointIntervalMs: 55_000, restartStrategy: undefined, ...cluster })).not.toThrow();
  });

  it("is checked when the job graph is built, with the cluster's defaults (or the configuration schema's) for restarts and heartbeats", () => {
    const job = (env: StreamExecutionEnvironment) => {
      env.enableCheckpointing(1_000);
      env.fromElements("x").sinkTo(KafkaSink.builder<string>().bootstrapServers("a:1").topic("t").string().exactlyOnce("p").transactionTimeout(60_000).build());
    };
    const build = (options: Partial<BuildOptions>) => {
      const env = new StreamExecutionEnvironment("kafka");
      job(env);
      return buildJobGraph(env, { name: "kafka", defaultParallelism: 1, defaultMaxParallelism: 128, defaultBufferTimeoutMs: 100, ...options });
    };
    // The schema's defaults: max-delay 1 min, heartbeat timeout 8 s plus interval 2 s.
    expect(() => build({})).toThrow(expect.objectContaining({ code: "KAFKA_CONFIG_INVALID", message: expect.stringContaining("71000 ms") }));
    expect(() => build({ defaultRestartDelayMs: 30_000, failureDetectionMs: 5_000 })).not.toThrow();
  });
});

describe("partition owners", () => {
  it("spread a topic's partitions round-robin over the subtasks", () => {
    const owners = [0, 1, 2, 3, 4, 5].map((p) => ownerOf("orders", p, 3));
    expect(new Set(owners.slice(0, 3)).size).toBe(3);
    expect(owners.slice(3)).toEqual(owners.slice(0, 3));
  });
});
