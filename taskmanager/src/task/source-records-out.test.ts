import { describe, expect, it } from "vitest";
import { keyGroupRangeForSubtask } from "@riffle/shared";
import { OutputTag, type RuntimeContext } from "@riffle/sdk";
import { StreamExecutionEnvironment, buildJobGraph, createOperatorChain, type ProcessingTimeService } from "@riffle/sdk/internal";
import { MemoryKeyedStateBackend, OperatorStateBackend } from "../state/index.js";
import { testRuntimeContext } from "../testing/index.js";

const ctx: RuntimeContext = testRuntimeContext({ jobId: "j", jobName: "j", taskName: "t" });
const processingTime: ProcessingTimeService = { getCurrentProcessingTime: () => Date.now(), registerTimer: () => () => {} };

/**
 * A source chained to its sink writes nothing to the network, so the task's network counters read 0
 * for it: the chain counts what its source emits (Flink: the source operator's numRecordsOut), which
 * the task reports for the JobManager's source rates and the autoscaler.
 */
describe("a chain's source record count", () => {
  it("counts what the source emits into a chain that ends in a sink, before a filter drops any", async () => {
    const env = new StreamExecutionEnvironment("chained");
    const collected: unknown[] = [];
    env
      .fromCollection(Array.from({ length: 10 }, (_, i) => i))
      .filter((x) => x % 2 === 0)
      .collect();
    const graph = buildJobGraph(env, { name: "t", defaultParallelism: 1, defaultMaxParallelism: 128, defaultBufferTimeoutMs: 0 });
    // Everything chains into one vertex: no network edge at all.
    expect(graph.vertices).toHaveLength(1);
    expect(graph.edges).toHaveLength(0);
    const services = { collect: async (r: readonly unknown[]) => void collected.push(...r) };
    const chain = createOperatorChain(graph.vertices[0]!, env.functions, { ctx, services, processingTime, autoWatermarkIntervalMs: 0 }, () => {
      throw new Error("a chained job has no network output");
    });
    expect(chain.source).toBeUndefined();
    await chain.initializeState(() => ({
      keyed: new MemoryKeyedStateBackend({ maxParallelism: 128, keyGroupRange: keyGroupRangeForSubtask(0, 1, 128) }),
      operator: new OperatorStateBackend({ subtaskIndex: 0, parallelism: 1 }),
      isRestored: false,
    }));
    await chain.open();
    const source = chain.source!;
    expect(source.recordsOut).toBe(0);
    expect(source.reader.pollNext(source.output, 4)).not.toBe("END_OF_INPUT");
    expect(source.recordsOut).toBe(4);
    while (source.reader.pollNext(source.output, 4) !== "END_OF_INPUT");
    chain.finishSource();
    await chain.endInput();
    await chain.close();
    expect(source.recordsOut).toBe(10);
    expect(collected).toEqual([0, 2, 4, 6, 8]);
  });

  it("counts records a source sends to a side output too, as Flink's CountingOutput does", async () => {
    const env = new StreamExecutionEnvironment("side");
    const tag = new OutputTag<number>("odd");
    const s = env.fromCollection([1, 2, 3]);
    s.collect();
    const graph = buildJobGraph(env, { name: "t", defaultParallelism: 1, defaultMaxParallelism: 128, defaultBufferTimeoutMs: 0 });
    const chain = createOperatorChain(
      graph.vertices[0]!,
      env.functions,
      { ctx, services: { collect: async () => {} }, processingTime, autoWatermarkIntervalMs: 0 },
      () => {
        throw new Error("no network output");
      },
    );
    await chain.initializeState(() => ({
      keyed: new MemoryKeyedStateBackend({ maxParallelism: 128, keyGroupRange: keyGroupRangeForSubtask(0, 1, 128) }),
      operator: new OperatorStateBackend({ subtaskIndex: 0, parallelism: 1 }),
      isRestored: false,
    }));
    await chain.open();
    const source = chain.source!;
    source.output.output(tag, 7);
    source.output.collect(8);
    expect(source.recordsOut).toBe(2);
    await chain.close();
  });
});
