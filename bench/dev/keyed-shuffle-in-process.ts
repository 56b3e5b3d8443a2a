/**
 * The keyed shuffle's tasks in one thread, for profiling the slot worker's data path without a
 * cluster: datagen (p=2) → keyBy → rolling count → discard, built from bench/jobs/keyed-shuffle.ts's
 * records, with subtask i of both vertices in "slot" i. Each slot has its own segment pool and
 * partitions, as in a worker; a channel between slots is a MessagePort served by serveExchange (the
 * path between two slots of one TaskManager), a channel within a slot reads in place. Every task is
 * a real Task; only the main thread's gRPC bridge is left out.
 *
 * Prints, per run, wall time and CPU time (process.cpuUsage: this thread, plus GC helper threads) per
 * record: CPU per record is what to compare on a machine shared with other work.
 *
 *   node --import tsx bench/dev/keyed-shuffle-in-process.ts [records] [runs]
 *   TM_DIST=taskmanager/dist-old node --import tsx bench/dev/...   another build of the taskmanager
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/dev/keyed-shuffle-in-process.ts
 */
import { MessageChannel } from "node:worker_threads";
import { createLogger, type JobGraph, type JobRuntimeConfig, type TaskDeploymentDescriptor } from "@riffle/shared";
import type { Sink } from "@riffle/sdk";
import { StreamExecutionEnvironment, buildJobGraph } from "@riffle/sdk/internal";
import type { TaskServices } from "../../taskmanager/dist/task/task.js";
import { type Keyed, keyed } from "../jobs/records.js";

/** The compiled TaskManager to run (`npm run build` first), or another copy of it to compare with. */
const dist = new URL(`../../${process.env.TM_DIST ?? "taskmanager/dist"}/`, import.meta.url);
const { NetworkBufferPool, PartitionManager, overPort, serveExchange } = (await import(
  new URL("network/index.js", dist).href
)) as typeof import("../../taskmanager/dist/network/index.js");
const { DefaultTaskStateManager } = (await import(
  new URL("checkpoint/default-task-state.js", dist).href
)) as typeof import("../../taskmanager/dist/checkpoint/default-task-state.js");
const { Task } = (await import(new URL("task/task.js", dist).href)) as typeof import("../../taskmanager/dist/task/task.js");
type Task = InstanceType<typeof Task>;

const SEGMENT_SIZE = 32 * 1024;
/** 64 MiB of network memory for a TaskManager of two slots (the defaults). */
const SEGMENTS_PER_SLOT = (64 * 1024 * 1024) / 2 / SEGMENT_SIZE;
const PARALLELISM = 2;

const log = createLogger("bench");
log.level = "warn";

async function runOnce(records: number): Promise<{ ms: number; cpuMs: number; sinkWrites: number }> {
  let sinkWrites = 0;
  const sink: Sink<Keyed> = { createWriter: () => ({ write: () => void sinkWrites++ }) };
  const env = new StreamExecutionEnvironment("run", []);
  env.setParallelism(PARALLELISM);
  env
    .datagen({ count: records, generator: keyed })
    .keyBy((r) => r.key)
    .sum("n")
    .name("count per key")
    .sinkTo(sink)
    .name("discard");
  const graph: JobGraph = buildJobGraph(env, {
    name: "keyed-shuffle",
    defaultParallelism: PARALLELISM,
    defaultMaxParallelism: 128,
    defaultBufferTimeoutMs: 100,
  });
  const [source, counter] = graph.vertices;
  const edge = graph.edges[0]!;
  const config: JobRuntimeConfig = { bufferTimeoutMs: 100, args: [], functionCount: env.functions.length, checkpointing: false, stateBackend: "memory" };

  const slots = Array.from({ length: PARALLELISM }, () => ({
    pool: new NetworkBufferPool(SEGMENTS_PER_SLOT, SEGMENT_SIZE),
    partitions: new PartitionManager(),
  }));
  const partitionOf = (subtask: number) => `source-${subtask}/${edge.id}`;
  const tdd = (vertex: JobGraph["vertices"][number], subtask: number): TaskDeploymentDescriptor => ({
    jobId: "job",
    jobName: "keyed-shuffle",
    executionId: `${vertex.id === source!.id ? "source" : "counter"}-${subtask}`,
    bundleHash: "",
    vertexId: vertex.id,
    subtaskIndex: subtask,
    parallelism: PARALLELISM,
    maxParallelism: graph.maxParallelism,
    vertexJson: JSON.stringify(vertex),
    inputGates:
      vertex === counter
        ? [
            {
              gateIndex: 0,
              producerVertexId: source!.id,
              channels: Array.from({ length: PARALLELISM }, (_, p) => ({
                partitionId: partitionOf(p),
                producerSubtask: p,
                taskmanagerId: "tm",
                address: "",
                subpartition: subtask,
                slotIndex: p,
              })),
            },
          ]
        : [],
    partitions:
      vertex === source
        ? [
            {
              partitionId: partitionOf(subtask),
              consumerVertexId: counter!.id,
              numSubpartitions: PARALLELISM,
              partitioner: edge.partitioner,
              keySelector: edge.keySelector ?? -1,
              maxParallelism: graph.maxParallelism,
              edgeIndex: 0,
            },
          ]
        : [],
    jobConfigJson: JSON.stringify(config),
    restoreJson: "",
    attempt: 0,
    slotIndex: subtask,
    // No JobManager here to fence.
    fencingToken: "",
  });
  const services = (slot: number): TaskServices => ({
    taskmanagerId: "tm",
    slotIndex: slot,
    pool: slots[slot]!.pool,
    partitions: slots[slot]!.partitions,
    openChannel: (channel) => {
      const { port1, port2 } = new MessageChannel();
      serveExchange(overPort(port2), slots[channel.slotIndex]!.partitions, 10_000, SEGMENT_SIZE, log);
      return overPort(port1);
    },
    network: { exclusiveBuffersPerChannel: 2, floatingBuffersPerGate: 8, maxBuffersPerSubpartition: 10, partitionRequestTimeoutMs: 10_000 },
    loadFunctions: async () => env.functions,
    sinkServices: () => ({ collect: async () => {} }),
    metricGroup: () => ({ counter: () => ({ inc() {} }), gauge() {} }) as never,
    onStateChange: (task, state, error) => {
      if (state === "FAILED") console.error(`${task.name} failed: ${error?.message}`);
    },
    createStateManager: (t, _config, vertex) => DefaultTaskStateManager.create({ tdd: t, vertex, backend: "memory", workDir: "/nonexistent" }),
    acknowledgeCheckpoint: async () => {},
    sendOperatorEvent: () => {
      throw new Error("no JobManager here: sources with split enumerators cannot run in this benchmark");
    },
    declineCheckpoint: async () => {},
    enter: () => {},
    log,
  });

  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const tasks: Task[] = [];
  for (let i = 0; i < PARALLELISM; i++) tasks.push(new Task(tdd(counter!, i), services(i)));
  for (let i = 0; i < PARALLELISM; i++) tasks.push(new Task(tdd(source!, i), services(i)));
  await Promise.all(tasks.map((t) => t.done));
  const cpu = process.cpuUsage(cpu0);
  const ms = performance.now() - t0;
  for (const t of tasks) if (t.executionState !== "FINISHED") throw new Error(`${t.name} ended ${t.executionState}`);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, sinkWrites };
}

const records = Number(process.argv[2] ?? 4_000_000);
const runs = Number(process.argv[3] ?? 5);
await runOnce(Math.min(records, 1_000_000));
const perRecord: number[] = [];
for (let r = 0; r < runs; r++) {
  const { ms, cpuMs, sinkWrites } = await runOnce(records);
  if (sinkWrites !== records) throw new Error(`the sinks got ${sinkWrites} records, expected ${records}`);
  perRecord.push((cpuMs * 1e6) / records);
  console.log(
    `run ${r + 1}: ${Math.round((records / ms) * 1000)} rec/s wall, ${((cpuMs * 1e6) / records).toFixed(0)} ns CPU per record (${Math.round(ms)} ms, cpu ${Math.round(cpuMs)} ms)`,
  );
}
perRecord.sort((a, b) => a - b);
console.log(`median ${perRecord[Math.floor(perRecord.length / 2)]!.toFixed(0)} ns CPU per record (both slots' work for it)`);
