import type { JobVertex, OperatorSpec } from "@riffle/shared";
import type { ReaderOutput, Source, SourceReader } from "../api/source.js";
import type { ListState } from "../state/state.js";
import type { Sink } from "../api/sink.js";
import { FilterOperator, FlatMapOperator, MapOperator, ProcessOperator } from "./basic.js";
import { KeyedAggregateOperator, KeyedProcessOperator, KeyedReduceOperator } from "./keyed.js";
import { SinkOperator } from "./sink.js";
import { MAX_WATERMARK, StreamOperator, combineOutputs, type Output, type OperatorRuntime, type OperatorStateContext } from "./operator.js";

/** A vertex's operators wired together: records entering `input` flow through the chain by function calls. */
export interface OperatorChain {
  readonly operators: StreamOperator[];
  /** The head operator: the task calls its processElement directly on the hot path. */
  readonly head: StreamOperator;
  /** For source vertices: the reader and the output its records go to (created by initializeState). */
  readonly source: { reader: SourceReader<unknown>; output: ReaderOutput<unknown> } | undefined;
  /** Creates or restores every operator's state (and the source reader), before open. */
  initializeState(stateOf: (operator: OperatorSpec) => OperatorStateContext): Promise<void>;
  open(): Promise<void>;
  /** Synchronous part of checkpoint n, in every operator of the chain. */
  snapshotState(checkpointId: number): void;
  notifyCheckpointComplete(checkpointId: number): Promise<void>;
  notifyCheckpointAborted(checkpointId: number): Promise<void>;
  /** True when every operator can take records (sinks with room). */
  isAvailable(): boolean;
  /** Whether isAvailable can ever be false (a sink whose writer can say no); known once open. */
  canBlock(): boolean;
  available(): Promise<void>;
  /**
   * A source vertex's reader reached the end of its input: the end of event time (MAX_WATERMARK) goes
   * through the chain, so every event-time window and timer downstream fires.
   */
  finishSource(): void;
  endInput(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The head of a source vertex: holds the reader and checkpoints its positions in operator list state
 * (split or union, as the source says).
 */
class SourceOperator extends StreamOperator {
  reader: SourceReader<unknown> | undefined;
  private positions: ListState<unknown> | undefined;

  constructor(private readonly source: Source<unknown>) {
    super();
  }

  override initializeState(state: OperatorStateContext, rt: OperatorRuntime): void {
    this.positions = this.source.stateMode === "union" ? state.operator.getUnionListState("source-positions") : state.operator.getListState("source-positions");
    this.reader = this.source.createReader(rt.ctx, state.isRestored ? this.positions.get() : undefined);
  }

  override snapshotState(checkpointId: number): void {
    this.positions?.update(this.reader?.snapshotState?.(checkpointId) ?? []);
  }

  processElement(record: unknown, timestamp: number | undefined): void {
    this.output.collect(record, timestamp);
  }

  /** What the reader emits into (replaced by the watermarking source output of the next change). */
  readerOutput(): ReaderOutput<unknown> {
    const out = this.output;
    const readerOutput: ReaderOutput<unknown> = {
      collect: (r, ts) => out.collect(r, ts),
      emitWatermark: (wm) => out.emitWatermark(wm),
      markIdle: () => out.emitWatermarkStatus(true),
      markActive: () => out.emitWatermarkStatus(false),
      createOutputForSplit: () => readerOutput,
      releaseOutputForSplit: () => {},
    };
    return readerOutput;
  }
}

/** Hands records and watermarks to the next operator of the chain by a function call. */
class ChainingOutput implements Output {
  constructor(private readonly next: StreamOperator) {}

  collect(record: unknown, timestamp?: number): void {
    this.next.processElement(record, timestamp);
  }

  emitWatermark(watermark: number): void {
    this.next.processWatermark(watermark);
  }

  emitWatermarkStatus(idle: boolean): void {
    this.next.processWatermarkStatus(idle);
  }

  collectSide(): void {}
}

function createOperator(spec: OperatorSpec, functions: readonly unknown[]): StreamOperator {
  const fn = functions[spec.fn];
  const key = spec.key !== undefined ? functions[spec.key] : undefined;
  switch (spec.kind) {
    case "source":
      return new SourceOperator(fn as Source<unknown>);
    case "map":
      return new MapOperator(fn);
    case "filter":
      return new FilterOperator(fn);
    case "flatMap":
      return new FlatMapOperator(fn);
    case "process":
      return new ProcessOperator(fn);
    case "keyedReduce":
      return new KeyedReduceOperator(fn, key);
    case "keyedAggregate":
      return new KeyedAggregateOperator(key, spec.aggregate!.type, spec.aggregate!.field);
    case "keyedProcess":
      return new KeyedProcessOperator(fn, key);
    case "sink":
      return new SinkOperator(fn as Sink<unknown>);
  }
}

/**
 * Builds the chain of a vertex from the job's function table. `networkOutput(edgeId)` supplies the
 * record writer of each edge leaving the vertex.
 */
export function createOperatorChain(
  vertex: JobVertex,
  functions: readonly unknown[],
  rt: OperatorRuntime,
  networkOutput: (edgeId: string) => Output,
): OperatorChain {
  const operators = vertex.operators.map((spec) => createOperator(spec, functions));
  const sinks = operators.filter((op): op is SinkOperator => op instanceof SinkOperator);
  /** Sinks whose writers can report no room; filled in when the chain opens (writers exist then). */
  let gated: SinkOperator[] = [];
  vertex.operators.forEach((spec, i) => {
    const outs: Output[] = [...spec.chainedOutputs.map((j) => new ChainingOutput(operators[j]!)), ...spec.networkOutputs.map(networkOutput)];
    operators[i]!.output = combineOutputs(outs);
  });
  const head = operators[0]!;
  let source: { reader: SourceReader<unknown>; output: ReaderOutput<unknown> } | undefined;

  return {
    operators,
    head,
    get source() {
      return source;
    },
    async initializeState(stateOf) {
      for (let i = 0; i < operators.length; i++) await operators[i]!.initializeState(stateOf(vertex.operators[i]!), rt);
      if (head instanceof SourceOperator) source = { reader: head.reader!, output: head.readerOutput() };
    },
    snapshotState(checkpointId) {
      for (const op of operators) op.snapshotState(checkpointId);
    },
    async notifyCheckpointComplete(checkpointId) {
      for (const op of operators) await op.notifyCheckpointComplete(checkpointId);
    },
    async notifyCheckpointAborted(checkpointId) {
      for (const op of operators) await op.notifyCheckpointAborted(checkpointId);
    },
    async open() {
      // Open from the tail, so an operator's consumers are ready before it emits (as in Flink).
      for (let i = operators.length - 1; i >= 0; i--) await operators[i]!.open(rt);
      gated = sinks.filter((s) => s.canBlock());
      await source?.reader.start?.();
    },
    isAvailable() {
      for (let i = 0; i < gated.length; i++) if (!gated[i]!.isAvailable()) return false;
      return true;
    },
    canBlock() {
      return gated.length > 0;
    },
    async available() {
      await Promise.all(gated.map((s) => s.available()));
    },
    finishSource() {
      head.processWatermark(MAX_WATERMARK);
    },
    async endInput() {
      for (const op of operators) await op.endInput();
    },
    async close() {
      let first: unknown;
      try {
        await source?.reader.close?.();
      } catch (e) {
        first = e;
      }
      for (const op of operators) {
        try {
          await op.close();
        } catch (e) {
          first ??= e;
        }
      }
      if (first !== undefined) throw first;
    },
  };
}
