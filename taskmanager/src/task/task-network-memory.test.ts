import { afterEach, describe, expect, it, vi } from "vitest";
import { RiffleError, createLogger, type ExecutionState, type JobRuntimeConfig, type TaskDeploymentDescriptor } from "@riffle/shared";
import type { Source } from "@riffle/sdk";
import { StreamExecutionEnvironment, buildJobGraph } from "@riffle/sdk/internal";
import { NetworkBufferPool, PartitionManager } from "../network/index.js";
import { OperatorStateBackend } from "../state/index.js";
import type { TaskStateManager } from "../checkpoint/task-state.js";
import { Task, type TaskServices } from "./task.js";

/**
 * What a producer task holds of its slot's network memory when its job ends around it: every segment
 * must be back in the pool once the task has ended, whoever released its partition first.
 */
const log = createLogger("test");
log.level = "silent";

/** An unbounded source of numbers, one per poll: it runs until it is cancelled or blocked. */
const counting: Source<number> = {
  boundedness: "continuous",
  createReader: () => {
    let i = 0;
    return {
      pollNext(out) {
        out.collect(i++);
        return "MORE_AVAILABLE";
      },
      isAvailable: () => Promise.resolve(),
    };
  },
};

const running: Task[] = [];
afterEach(async () => {
  for (const t of running.splice(0)) {
    t.cancel();
    await t.done;
  }
});

/** A source task whose rebalanced output has two subpartitions (two consumers, not deployed here). */
function deploySource(pool: NetworkBufferPool, partitions: PartitionManager) {
  const env = new StreamExecutionEnvironment("segments");
  env
    .fromSource(counting, "counting")
    .rebalance()
    .map((x: number) => x)
    .sinkTo({ createWriter: () => ({ write() {} }) });
  const graph = buildJobGraph(env, { name: "t", defaultParallelism: 1, defaultMaxParallelism: 128, defaultBufferTimeoutMs: 600_000 });
  const source = graph.vertices[0]!;
  const states: ExecutionState[] = [];
  const services: TaskServices = {
    taskmanagerId: "tm",
    slotIndex: 0,
    pool,
    partitions,
    openChannel: () => {
      throw new Error("the source task has no inputs");
    },
    enter: () => {},
    network: { exclusiveBuffersPerChannel: 2, floatingBuffersPerGate: 8, maxBuffersPerSubpartition: 10, partitionRequestTimeoutMs: 5000 },
    loadFunctions: async () => env.functions,
    sinkServices: () => ({ collect: async () => {} }),
    metricGroup: () => ({ counter: () => ({ inc() {} }), gauge() {} }),
    onStateChange: (_task, state) => void states.push(state),
    createStateManager: async (tdd): Promise<TaskStateManager> => ({
      stateFor: () => ({ keyed: undefined, operator: new OperatorStateBackend({ subtaskIndex: tdd.subtaskIndex, parallelism: 1 }), isRestored: false }),
      capture: () => {
        throw new Error("no checkpoints in this test");
      },
      dispose: async () => {},
    }),
    acknowledgeCheckpoint: async () => {},
    sendOperatorEvent: () => {},
    declineCheckpoint: async () => {},
    log,
  };
  // No buffer timeout within the test: a partly filled segment stays with the writer until it is full
  // (a flush that happens to run first would hand it to the subpartition, and hide a leak).
  const config: JobRuntimeConfig = { bufferTimeoutMs: 600_000, args: [], functionCount: env.functions.length, checkpointing: false };
  const tdd: TaskDeploymentDescriptor = {
    jobId: "job",
    jobName: "t",
    executionId: "source-0",
    bundleHash: "",
    vertexId: source.id,
    subtaskIndex: 0,
    parallelism: 1,
    maxParallelism: 128,
    vertexJson: JSON.stringify(source),
    inputGates: [],
    partitions: [
      { partitionId: "source-out", consumerVertexId: "", numSubpartitions: 2, partitioner: "rebalance", keySelector: -1, maxParallelism: 128, edgeIndex: 0 },
    ],
    jobConfigJson: JSON.stringify(config),
    restoreJson: "",
    attempt: 0,
    slotIndex: 0,
  };
  const task = new Task(tdd, services);
  running.push(task);
  return { task, states };
}

describe("a producer task's network segments", () => {
  it("all return to the pool when the producer is cancelled after its job's partitions were released under it", async () => {
    // The race of e2e/api.test.ts: a consumer in the producer's slot fails, so the slot releases the
    // job's partitions (SlotRuntime.onTaskState) while the producer still runs; the producer writes
    // on until the JobManager's cancel reaches it.
    const pool = new NetworkBufferPool(64, 32 * 1024);
    const partitions = new PartitionManager();
    const { task, states } = deploySource(pool, partitions);

    // Nobody reads: both subpartition queues fill up to their limit and the source is back-pressured.
    await vi.waitFor(() => expect(task.outPoolUsage()).toBe(1), { timeout: 10_000 });
    expect(pool.availableSegments).toBeLessThanOrEqual(64 - 2 * 10);
    partitions.releaseJob("job", new RiffleError("TASK_FAILED", "a consumer of the job failed"));
    expect(pool.availableSegments).toBe(64);

    // The source goes on writing records for both subpartitions after the release...
    const before = task.recordsOut;
    await vi.waitFor(() => expect(task.recordsOut).toBeGreaterThan(before + 1000), { timeout: 10_000 });
    // ...and is cancelled in the middle of that.
    task.cancel();
    await task.done;
    expect(states.at(-1)).toBe("CANCELED");
    expect(pool.availableSegments).toBe(64);
  });
});
