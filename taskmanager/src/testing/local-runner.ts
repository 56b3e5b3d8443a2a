import { type JobGraph, keyGroupRangeForSubtask } from "@riffle/shared";
import type { DataStream, RuntimeContext } from "@riffle/sdk";
import { StreamExecutionEnvironment, buildJobGraph, createOperatorChain, type OperatorChain, type Output } from "@riffle/sdk/internal";
import { MemoryKeyedStateBackend, OperatorStateBackend } from "../state/index.js";
import { StatusWatermarkValve } from "../task/watermark-valve.js";
import { ManualProcessingTime } from "./manual-clock.js";
import { testRuntimeContext } from "./runtime-context.js";

export interface LocalRunOptions {
  /** Job arguments (`env.param(...)`). */
  args?: string[];
  /** Records a source emits per poll (smaller: finer interleaving with watermarks). Default 16. */
  pollBatch?: number;
  /** Processing time the clock advances after each source poll, in ms. Default 0. */
  clockStepPerPoll?: number;
  /** Periodic watermark interval (env's wins when it set one). Default 200. */
  autoWatermarkIntervalMs?: number;
  /** Start of the manual processing-time clock. Default 0. */
  startTime?: number;
  /** Called after every poll round with the clock: lets a test advance processing time. */
  onRound?: (clock: ManualProcessingTime, round: number) => void;
}

export interface LocalRunResult<T> {
  /** What the collect sink received, in order. */
  records: T[];
  /** The timestamps those records carried. */
  timestamps: (number | undefined)[];
  /**
   * When each record arrived: the source poll round (0-based) it was emitted in. What the end of input
   * releases (its watermark fires every event-time timer) carries the round the last source ended in.
   */
  rounds: number[];
  graph: JobGraph;
  clock: ManualProcessingTime;
  /** Records the operators dropped as late (what a task reports as numLateRecordsDropped). */
  lateRecordsDropped: number;
}

const ctxOf = (name: string): RuntimeContext => testRuntimeContext({ taskName: name });

/**
 * Runs a job's operators in-process at parallelism 1, deterministically: each network edge hands
 * records and watermarks straight to the next chain, sources are polled round-robin in small batches
 * with a manual processing-time clock, and every source ends with the end-of-input watermark. A
 * vertex's input edges go through the tasks' own StatusWatermarkValve, one channel per edge (what a
 * task at parallelism 1 has), so watermarks, idleness, the flush when every input goes idle and
 * inputs that end behave as on a cluster. A vertex ends as a task does: when every input edge ended,
 * its end of input runs and its output edges end in turn. For testing operator semantics (windows,
 * joins, timers); the real tasks and network are tested in e2e.
 * Every sink's records are captured (the returned stream is collected; a build returning nothing
 * relies on its own sinks).
 */
export async function runLocally<T>(
  build: (env: StreamExecutionEnvironment) => DataStream<T> | void,
  options: LocalRunOptions = {},
): Promise<LocalRunResult<T>> {
  const env = new StreamExecutionEnvironment("run", options.args ?? []);
  if (options.autoWatermarkIntervalMs !== undefined) env.setAutoWatermarkInterval(options.autoWatermarkIntervalMs);
  // A build that returns a stream has it collected; one that returns nothing brings its own sinks.
  build(env)?.collect();
  const graph = buildJobGraph(env, { name: "local", parallelism: 1, defaultParallelism: 1, defaultMaxParallelism: 128, defaultBufferTimeoutMs: 0 });
  const clock = new ManualProcessingTime(options.startTime ?? 0);
  const records: T[] = [];
  const timestamps: (number | undefined)[] = [];
  const rounds: number[] = [];
  let round = 0;
  const chains = new Map<string, OperatorChain>();
  /** Per target vertex: the valve over its input edges, channel i being vertex.inputs[i]. */
  const valves = new Map<string, StatusWatermarkValve>();
  const collectSink = {
    collect: async () => {},
  };
  for (const vertex of [...graph.vertices].reverse()) {
    valves.set(
      vertex.id,
      new StatusWatermarkValve(vertex.inputs.length, {
        processWatermark(watermark) {
          const chain = chains.get(vertex.id)!;
          chain.head.processWatermark(watermark);
          drain(chain);
        },
        processWatermarkStatus: (idle) => chains.get(vertex.id)!.head.processWatermarkStatus(idle),
      }),
    );
    const chain = createOperatorChain(
      vertex,
      env.functions,
      { ctx: ctxOf(vertex.name), services: collectSink, processingTime: clock, autoWatermarkIntervalMs: graph.autoWatermarkIntervalMs ?? 200 },
      (edgeId) => edgeOutput(graph, edgeId, chains, valves),
    );
    chains.set(vertex.id, chain);
  }
  const ordered = graph.vertices.map((v) => chains.get(v.id)!);
  // The collect sink's records arrive through SinkServices.collect asynchronously; capture them in
  // order, with timestamps, by wrapping the sink operators' input instead.
  for (const vertex of graph.vertices) {
    const chain = chains.get(vertex.id)!;
    vertex.operators.forEach((spec, i) => {
      if (spec.kind !== "sink") return;
      const op = chain.operators[i]!;
      op.processElement = (r: unknown, ts: number | undefined) => {
        records.push(r as T);
        timestamps.push(ts);
        rounds.push(round);
      };
    });
  }
  for (const c of ordered) {
    await c.initializeState(() => ({
      keyed: new MemoryKeyedStateBackend({
        maxParallelism: 128,
        keyGroupRange: keyGroupRangeForSubtask(0, 1, 128),
        clock: () => clock.getCurrentProcessingTime(),
      }),
      operator: new OperatorStateBackend({ subtaskIndex: 0, parallelism: 1 }),
      isRestored: false,
    }));
  }
  for (const c of [...ordered].reverse()) await c.open();
  const ended = new Set<string>();
  /** A vertex whose input ended: its end of input, then each output edge ends at its target's valve. */
  const endVertex = async (vertexId: string): Promise<void> => {
    ended.add(vertexId);
    await chains.get(vertexId)!.endInput();
    for (const edge of graph.edges) {
      if (edge.source !== vertexId) continue;
      const target = graph.vertices.find((v) => v.id === edge.target)!;
      valves.get(target.id)!.channelEnded(target.inputs.indexOf(edge.id));
      const allEnded = target.inputs.every((input) => ended.has(graph.edges.find((e) => e.id === input)!.source));
      if (allEnded && !ended.has(target.id)) await endVertex(target.id);
    }
  };
  const sources = graph.vertices.filter((v) => chains.get(v.id)!.source);
  const active = new Set(sources);
  const batch = options.pollBatch ?? 16;
  while (active.size > 0) {
    for (const v of [...active]) {
      const c = chains.get(v.id)!;
      const r = c.source!.reader.pollNext(c.source!.output, batch);
      if (r === "END_OF_INPUT") {
        active.delete(v);
        c.finishSource();
        drain(c);
        await endVertex(v.id);
      }
    }
    clock.advanceBy(options.clockStepPerPoll ?? 0);
    options.onRound?.(clock, round);
    round++;
  }
  // Every vertex is downstream of a source, so all ended above; this only guards a graph without sources.
  for (const v of graph.vertices) if (!ended.has(v.id)) await chains.get(v.id)!.endInput();
  for (const c of ordered) await c.close();
  const lateRecordsDropped = [...chains.values()].reduce((n, c) => n + c.operators.reduce((m, op) => m + op.numLateRecordsDropped, 0), 0);
  return { records, timestamps, rounds, graph, clock, lateRecordsDropped };
}

function edgeOutput(graph: JobGraph, edgeId: string, chains: Map<string, OperatorChain>, valves: Map<string, StatusWatermarkValve>): Output {
  const edge = graph.edges.find((e) => e.id === edgeId)!;
  const target = graph.vertices.find((v) => v.id === edge.target)!;
  const channel = target.inputs.indexOf(edgeId);
  const second = target.inputTypes?.[channel] === 2;
  const valve = valves.get(target.id)!;
  return {
    collect(record, timestamp) {
      const head = chains.get(target.id)!.head;
      if (second) head.processElement2(record, timestamp);
      else head.processElement(record, timestamp);
    },
    emitWatermark: (wm) => valve.inputWatermark(channel, wm),
    emitWatermarkStatus: (idle) => valve.inputWatermarkStatus(channel, idle),
    collectSide() {},
  };
}

/** Does a chain's pending watermark work at once, as the task does before taking more input. */
function drain(chain: OperatorChain): void {
  while (chain.hasPendingWork()) chain.continueWork();
}
