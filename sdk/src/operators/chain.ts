import type { JobVertex, OperatorSpec } from "@riffle/shared";
import type { ReaderOutput, Source, SourceReader } from "../api/source.js";
import type { WatermarkStrategy } from "../time/watermark-strategy.js";
import { SourceOperator } from "./source.js";
import type { Sink } from "../api/sink.js";
import { FilterOperator, FlatMapOperator, MapOperator, ProcessOperator } from "./basic.js";
import { KeyedAggregateOperator, KeyedReduceOperator } from "./keyed.js";
import { KeyedProcessOperator } from "./keyed-function.js";
import { SinkOperator } from "./sink.js";
import {
  MAX_WATERMARK,
  MIN_WATERMARK,
  StreamOperator,
  combineOutputs,
  type OperatorEvent,
  type Output,
  type OperatorRuntime,
  type OperatorStateContext,
} from "./operator.js";

/** A vertex's operators wired together: records entering `input` flow through the chain by function calls. */
export interface OperatorChain {
  readonly operators: StreamOperator[];
  /** The head operator: the task calls its processElement directly on the hot path. */
  readonly head: StreamOperator;
  /**
   * The lowest of the last watermarks emitted by the operators that end the chain (sinks: operators
   * with neither a chained nor a network output); undefined when no operator ends it.
   */
  readonly endWatermark: number | undefined;
  /**
   * For source vertices: the reader, the output its records go to, and how many it emitted into the
   * chain (there once the chain is open).
   */
  readonly source: ChainSource | undefined;
  /** Creates or restores every operator's state (and the source reader), before open. */
  initializeState(stateOf: (operator: OperatorSpec) => OperatorStateContext): Promise<void>;
  open(): Promise<void>;
  /**
   * Before the synchronous part of checkpoint n, in every operator (a sink's flush and pre-commit):
   * a promise when one of them is asynchronous, which the task awaits before it goes on.
   */
  prepareSnapshotPreBarrier(checkpointId: number): Promise<void> | undefined;
  /** Synchronous part of checkpoint n, in every operator of the chain. */
  snapshotState(checkpointId: number): void;
  /** An event from the coordinator of the chain's head (a source's split enumerator). */
  handleOperatorEvent(event: OperatorEvent): void;
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
  /** Whether an operator has work left from a watermark; see StreamOperator.hasPendingWork. */
  hasPendingWork(): boolean;
  /** Continues the first operator with pending work (upstream ones first). */
  continueWork(): void;
  endInput(): Promise<void>;
  close(): Promise<void>;
}

/** The source at the head of a chain. */
export interface ChainSource {
  reader: SourceReader<unknown>;
  output: ReaderOutput<unknown>;
  /** Records the source emitted into the chain (Flink: the source operator's numRecordsOut). */
  readonly recordsOut: number;
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

/**
 * The output of an operator that ends the chain (a sink). Records stop here; the watermark is kept,
 * because the task's currentOutputWatermark is what its last operator emitted, as in Flink, and a sink
 * has no network output to read it from.
 */
class ChainEndOutput implements Output {
  currentWatermark = MIN_WATERMARK;

  collect(): void {}

  emitWatermark(watermark: number): void {
    if (watermark > this.currentWatermark) this.currentWatermark = watermark;
  }

  emitWatermarkStatus(): void {}

  collectSide(): void {}
}

function createOperator(spec: OperatorSpec, functions: readonly unknown[]): StreamOperator {
  const fn = functions[spec.fn];
  const key = spec.key !== undefined ? functions[spec.key] : undefined;
  switch (spec.kind) {
    case "source":
      return new SourceOperator(fn as Source<unknown>, spec.watermarks !== undefined ? (functions[spec.watermarks] as WatermarkStrategy<unknown>) : undefined);
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
    case "operator": {
      const op = (fn as () => StreamOperator)();
      if (!(op instanceof StreamOperator)) throw new Error(`operator "${spec.name}": its factory did not return a StreamOperator`);
      return op;
    }
  }
}

/**
 * An operator's output: records to its main consumers, side-output records to the consumers of their
 * tag, and watermarks to all of them.
 */
class RoutingOutput implements Output {
  private readonly all: Output;

  constructor(
    private readonly main: Output,
    private readonly sides: ReadonlyMap<string, Output>,
  ) {
    this.all = combineOutputs([main, ...sides.values()]);
  }

  collect(record: unknown, timestamp?: number): void {
    this.main.collect(record, timestamp);
  }

  emitWatermark(watermark: number): void {
    this.all.emitWatermark(watermark);
  }

  emitWatermarkStatus(idle: boolean): void {
    this.all.emitWatermarkStatus(idle);
  }

  collectSide(tag: string, record: unknown, timestamp?: number): void {
    this.sides.get(tag)?.collect(record, timestamp);
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
  const outputOf = (o: { chainedOutputs: number[]; networkOutputs: string[] }): Output =>
    combineOutputs([...o.chainedOutputs.map((j) => new ChainingOutput(operators[j]!)), ...o.networkOutputs.map(networkOutput)]);
  const isEmpty = (o: { chainedOutputs: number[]; networkOutputs: string[] }) => o.chainedOutputs.length === 0 && o.networkOutputs.length === 0;
  const ends: ChainEndOutput[] = [];
  vertex.operators.forEach((spec, i) => {
    const sides = spec.sideOutputs ?? [];
    if (isEmpty(spec) && sides.every(isEmpty)) {
      const end = new ChainEndOutput();
      ends.push(end);
      operators[i]!.output = end;
      return;
    }
    const main = outputOf(spec);
    operators[i]!.output = sides.length === 0 ? main : new RoutingOutput(main, new Map(sides.map((s) => [s.tag, outputOf(s)])));
  });
  return new Chain(vertex, rt, operators, sinks, ends);
}

/**
 * The source of a chain whose head is a SourceOperator. A class, not an object literal: V8 keeps an
 * object literal with a getter in dictionary mode, and every property read of such an object from
 * optimized code is then a generic lookup (measured ~3% of a keyed shuffle, through `reader`).
 */
class OpenSource implements ChainSource {
  constructor(
    private readonly operator: SourceOperator,
    readonly reader: SourceReader<unknown>,
    readonly output: ReaderOutput<unknown>,
  ) {}

  get recordsOut(): number {
    return this.operator.numRecordsOut;
  }
}

/**
 * The chain itself. A class for the same reason as OpenSource: the task reads it on every record
 * (isAvailable) and every step (hasPendingWork, source), so it must keep fast properties.
 */
class Chain implements OperatorChain {
  readonly head: StreamOperator;
  source: ChainSource | undefined = undefined;
  /** Sinks whose writers can report no room; filled in when the chain opens (writers exist then). */
  private gated: SinkOperator[] = [];

  constructor(
    private readonly vertex: JobVertex,
    private readonly rt: OperatorRuntime,
    readonly operators: StreamOperator[],
    private readonly sinks: SinkOperator[],
    private readonly ends: ChainEndOutput[],
  ) {
    this.head = operators[0]!;
  }

  get endWatermark(): number | undefined {
    if (this.ends.length === 0) return undefined;
    let min = Number.POSITIVE_INFINITY;
    for (const end of this.ends) min = Math.min(min, end.currentWatermark);
    return min;
  }

  async initializeState(stateOf: (operator: OperatorSpec) => OperatorStateContext): Promise<void> {
    for (let i = 0; i < this.operators.length; i++) await this.operators[i]!.initializeState(stateOf(this.vertex.operators[i]!), this.rt);
  }

  prepareSnapshotPreBarrier(checkpointId: number): Promise<void> | undefined {
    let waits: Promise<void>[] | undefined;
    for (const op of this.operators) {
      const w = op.prepareSnapshotPreBarrier(checkpointId);
      if (w) (waits ??= []).push(w);
    }
    if (!waits) return undefined;
    return waits.length === 1 ? waits[0] : Promise.all(waits).then(() => {});
  }

  snapshotState(checkpointId: number): void {
    for (const op of this.operators) op.snapshotState(checkpointId);
  }

  handleOperatorEvent(event: OperatorEvent): void {
    this.head.handleOperatorEvent(event);
  }

  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    for (const op of this.operators) await op.notifyCheckpointComplete(checkpointId);
  }

  async notifyCheckpointAborted(checkpointId: number): Promise<void> {
    for (const op of this.operators) await op.notifyCheckpointAborted(checkpointId);
  }

  async open(): Promise<void> {
    const { operators, head } = this;
    // Open from the tail, so an operator's consumers are ready before it emits (as in Flink).
    for (let i = operators.length - 1; i >= 0; i--) await operators[i]!.open(this.rt);
    if (head instanceof SourceOperator) this.source = new OpenSource(head, head.reader!, head.readerOutput());
    this.gated = this.sinks.filter((s) => s.canBlock());
    if (head instanceof SourceOperator) await head.startReader(this.rt);
  }

  isAvailable(): boolean {
    const gated = this.gated;
    for (let i = 0; i < gated.length; i++) if (!gated[i]!.isAvailable()) return false;
    return true;
  }

  canBlock(): boolean {
    return this.gated.length > 0;
  }

  async available(): Promise<void> {
    await Promise.all(this.gated.map((s) => s.available()));
  }

  finishSource(): void {
    this.head.processWatermark(MAX_WATERMARK);
  }

  hasPendingWork(): boolean {
    const operators = this.operators;
    for (let i = 0; i < operators.length; i++) if (operators[i]!.hasPendingWork()) return true;
    return false;
  }

  continueWork(): void {
    const operators = this.operators;
    for (let i = 0; i < operators.length; i++) {
      if (operators[i]!.hasPendingWork()) {
        operators[i]!.continueWork();
        return;
      }
    }
  }

  async endInput(): Promise<void> {
    for (const op of this.operators) await op.endInput();
  }

  async close(): Promise<void> {
    let first: unknown;
    try {
      await this.source?.reader.close?.();
    } catch (e) {
      first = e;
    }
    for (const op of this.operators) {
      try {
        await op.close();
      } catch (e) {
        first ??= e;
      }
    }
    if (first !== undefined) throw first;
  }
}
