import { afterEach, describe, expect, it, vi } from "vitest";
import { createLogger, type ExecutionState, type JobGraph, type JobRuntimeConfig, type TaskDeploymentDescriptor } from "@riffle/shared";
import type { ReaderOutput, RuntimeContext, Source } from "@riffle/sdk";
import { MAX_WATERMARK, MIN_WATERMARK, StreamExecutionEnvironment, buildJobGraph } from "@riffle/sdk/internal";
import { InputGate, LocalInputChannel, NetworkBufferPool, PartitionManager, timestampOf, type InputItem } from "../network/index.js";
import { OperatorStateBackend } from "../state/index.js";
import type { TaskStateManager } from "../checkpoint/task-state.js";
import { Task, type TaskServices } from "./task.js";

/**
 * Event time through real tasks in one process: a source task whose reader emits timestamped records,
 * watermarks and idleness, and a map task behind it on a local channel. The test reads the map task's
 * own result partition, so it sees what the map task sends on: timestamps kept per record, watermarks
 * passed through its StatusWatermarkValve, and the end of event time when the source ends.
 */
const log = createLogger("test");
log.level = "silent";

type Step = (out: ReaderOutput<string>) => void;

/**
 * A bounded source that runs `steps` in its first poll, then ends; with `until`, it ends only once
 * `until` resolves, so a test can look at the tasks while the steps' effects are all there.
 */
function scripted(steps: Step[], until?: Promise<void>): Source<string> {
  return {
    boundedness: "bounded",
    createReader: () => {
      let done = false;
      let held = until !== undefined;
      void until?.then(() => {
        held = false;
      });
      return {
        pollNext(out) {
          if (!done) {
            for (const step of steps) step(out);
            done = true;
            return "MORE_AVAILABLE";
          }
          return held ? "NOTHING_AVAILABLE" : "END_OF_INPUT";
        },
        isAvailable: () => until ?? Promise.resolve(),
      };
    },
  };
}

const running: Task[] = [];
afterEach(async () => {
  for (const t of running.splice(0)) {
    t.cancel();
    await t.done;
  }
});

/**
 * source ─rebalance─► map ─rebalance─► sink. The sink task is deployed only with `withSink`; otherwise
 * the test reads the map's partition.
 */
function deploy(
  steps: Step[],
  options: { mapVertexChange?: (v: JobGraph["vertices"][number]) => void; attempt?: number; withSink?: boolean; until?: Promise<void> } = {},
) {
  const env = new StreamExecutionEnvironment("event-time");
  const opened: RuntimeContext[] = [];
  env
    .fromSource(scripted(steps, options.until), "scripted")
    .rebalance()
    .map({
      open: (ctx: RuntimeContext) => void opened.push(ctx),
      map: (s: string) => s.toUpperCase(),
    })
    .rebalance()
    .sinkTo({ createWriter: () => ({ write() {} }) });
  const graph = buildJobGraph(env, { name: "t", defaultParallelism: 1, defaultMaxParallelism: 128, defaultBufferTimeoutMs: 100 });
  const [source, map, sink] = graph.vertices;
  options.mapVertexChange?.(map!);
  const pool = new NetworkBufferPool(64, 32 * 1024);
  const partitions = new PartitionManager();
  const states = new Map<string, ExecutionState>();
  const failures = new Map<string, string>();
  const services: TaskServices = {
    taskmanagerId: "tm",
    slotIndex: 0,
    pool,
    partitions,
    openChannel: () => {
      throw new Error("every channel of this test is in the slot");
    },
    enter: () => {},
    network: {
      exclusiveBuffersPerChannel: 2,
      floatingBuffersPerGate: 8,
      maxBuffersPerSubpartition: 10,
      partitionRequestTimeoutMs: 5000,
    },
    loadFunctions: async () => env.functions,
    sinkServices: () => ({ collect: async () => {} }),
    metricGroup: () => ({ counter: () => ({ inc() {} }), gauge() {} }),
    onStateChange: (task, state, error) => {
      states.set(task.tdd.vertexId, state);
      if (error) failures.set(task.tdd.vertexId, error.message);
    },
    createStateManager: async (tdd): Promise<TaskStateManager> => ({
      stateFor: () => ({ keyed: undefined, operator: new OperatorStateBackend({ subtaskIndex: tdd.subtaskIndex, parallelism: 1 }), isRestored: false }),
      capture: () => {
        throw new Error("no checkpoints in this test");
      },
      dispose: async () => {},
    }),
    acknowledgeCheckpoint: async () => {},
    declineCheckpoint: async () => {},
    log,
  };
  const config: JobRuntimeConfig = { bufferTimeoutMs: 100, args: [], functionCount: env.functions.length, checkpointing: false };
  const partitionOf = (vertexId: string) => `${vertexId}-out`;
  const tdd = (v: JobGraph["vertices"][number], inputFrom?: string): TaskDeploymentDescriptor => ({
    jobId: "job",
    jobName: "t",
    executionId: `${v.id}-0`,
    bundleHash: "",
    vertexId: v.id,
    subtaskIndex: 0,
    parallelism: 1,
    maxParallelism: 128,
    vertexJson: JSON.stringify(v),
    inputGates: inputFrom
      ? [
          {
            gateIndex: 0,
            producerVertexId: inputFrom,
            channels: [{ partitionId: partitionOf(inputFrom), producerSubtask: 0, taskmanagerId: "tm", address: "", subpartition: 0, slotIndex: 0 }],
          },
        ]
      : [],
    partitions:
      v === sink
        ? []
        : [
            {
              partitionId: partitionOf(v.id),
              consumerVertexId: "",
              numSubpartitions: 1,
              partitioner: "rebalance",
              keySelector: -1,
              maxParallelism: 128,
              edgeIndex: 0,
            },
          ],
    jobConfigJson: JSON.stringify(config),
    restoreJson: "",
    attempt: options.attempt ?? 0,
    slotIndex: 0,
  });
  const mapTask = new Task(tdd(map!, source!.id), services);
  const sourceTask = new Task(tdd(source!), services);
  running.push(mapTask, sourceTask);
  const sinkTask = options.withSink ? new Task(tdd(sink!, map!.id), services) : undefined;
  if (sinkTask) running.push(sinkTask);

  /** Everything the map task sends, as "record@timestamp" and event names, until its end of partition. */
  const readMapOutput = async (): Promise<string[]> => {
    const gate = new InputGate(0, pool, 0);
    const channel = new LocalInputChannel(0, "map output", gate);
    gate.addChannel(channel);
    await channel.connect(partitions, partitionOf(map!.id), 0, 5000);
    const seen: string[] = [];
    await vi.waitFor(
      () => {
        for (let item = gate.pollNext(); item; item = gate.pollNext()) seen.push(...itemsOf(item.buffer));
        expect(gate.isFinished()).toBe(true);
      },
      { timeout: 10_000 },
    );
    gate.close();
    return seen;
  };
  return { mapTask, sourceTask, sinkTask, states, failures, opened, readMapOutput };
}

/** What one buffer of the map task's output holds, readably. */
function itemsOf(b: InputItem): string[] {
  switch (b.type) {
    case "DATA":
      return b.records.map((r, i) => `${String(r)}@${b.timestamps ? String(timestampOf(b.timestamps[i]!)) : "-"}`);
    case "WATERMARK":
      return [b.timestamp === MAX_WATERMARK ? "WM MAX" : `WM ${b.timestamp}`];
    case "WATERMARK_STATUS":
      return [b.idle ? "IDLE" : "ACTIVE"];
    default:
      return [b.type];
  }
}

describe("event time through tasks", () => {
  it("keeps record timestamps, passes watermarks and idleness on, and ends event time when the source ends", async () => {
    const { mapTask, sourceTask, states, readMapOutput } = deploy([
      (out) => out.collect("a", 1),
      (out) => out.collect("b", 5),
      (out) => out.emitWatermark(3),
      (out) => out.collect("c"),
      (out) => out.markIdle(),
      (out) => out.markActive(),
      (out) => out.emitWatermark(6),
    ]);
    expect(await readMapOutput()).toEqual(["A@1", "B@5", "WM 3", "C@-", "IDLE", "ACTIVE", "WM 6", "WM MAX"]);
    await Promise.all([mapTask.done, sourceTask.done]);
    expect([...states.values()]).toEqual(["FINISHED", "FINISHED"]);
    expect(sourceTask.currentInputWatermark).toBe(MIN_WATERMARK);
    expect(sourceTask.currentOutputWatermark).toBe(MAX_WATERMARK);
    expect(mapTask.currentInputWatermark).toBe(MAX_WATERMARK);
    expect(mapTask.currentOutputWatermark).toBe(MAX_WATERMARK);
    expect(mapTask.processingTime.pendingTimers).toBe(0);
  });

  it("reports the last watermark that reached a sink as the sink task's output watermark", async () => {
    let end!: () => void;
    const until = new Promise<void>((resolve) => {
      end = resolve;
    });
    const { sinkTask, mapTask, sourceTask, states } = deploy([(out) => out.collect("a", 1), (out) => out.emitWatermark(3), (out) => out.emitWatermark(6)], {
      withSink: true,
      until,
    });
    expect(sinkTask!.currentOutputWatermark).toBe(MIN_WATERMARK);
    // The source holds its end back: 6 is the last watermark until it ends.
    await vi.waitFor(() => expect(sinkTask!.currentOutputWatermark).toBe(6), { timeout: 10_000 });
    expect(sinkTask!.currentInputWatermark).toBe(6);
    end();
    await Promise.all([sinkTask!.done, mapTask.done, sourceTask.done]);
    expect([...states.values()]).toEqual(["FINISHED", "FINISHED", "FINISHED"]);
    expect(sinkTask!.currentOutputWatermark).toBe(MAX_WATERMARK);
  });

  it("feeds a gate marked as input 2 to the head's processElement2", async () => {
    // The task routes by the vertex's inputTypes alone, whatever the head: marking the map's only
    // gate as input 2 sends its records to processElement2, which a one-input map refuses, so the
    // failure shows where they went. Real two-input heads (co-process, interval join) over both
    // inputs are covered end to end by e2e/two-input-chaos.test.ts and e2e/nexmark.test.ts (q7).
    const { mapTask, states, failures } = deploy([(out) => out.collect("a", 1)], {
      mapVertexChange: (map) => {
        map.inputTypes = [2];
      },
    });
    await mapTask.done;
    expect(states.get(mapTask.tdd.vertexId)).toBe("FAILED");
    expect(failures.get(mapTask.tdd.vertexId)).toMatch(/has one input/);
  });

  it("tells functions which attempt of the subtask they run in", async () => {
    // Sinks name files by it (the exactly-once file sink): a restart must not reuse an earlier attempt's.
    const { mapTask, opened } = deploy([], { attempt: 3 });
    await mapTask.done;
    expect(opened.map((ctx) => ctx.attempt)).toEqual([3]);
  });
});
