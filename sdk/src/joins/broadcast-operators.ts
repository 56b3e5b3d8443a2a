import { RiffleError } from "@riffle/shared";
import type { Collector } from "../api/functions.js";
import { UserFunctionOperator } from "../operators/basic.js";
import { KeyedFunctionOperator } from "../operators/keyed-function.js";
import { LiveContext, MIN_WATERMARK, callable, type OperatorRuntime, type OperatorStateContext } from "../operators/operator.js";
import type { MapStateDescriptor } from "../state/descriptors.js";
import type { OperatorStateStore } from "../state/stores.js";
import { HeapBroadcastState, type BroadcastState, type ReadOnlyBroadcastState } from "./broadcast-state.js";
import type { BroadcastContext, BroadcastReadOnlyContext, KeyedBroadcastOnTimerContext } from "./functions.js";

type AnyMapDescriptor = MapStateDescriptor<unknown, unknown>;
type ElementFn<C> = (value: unknown, ctx: C, out: Collector<unknown>) => void;

/** The operator-state name of a broadcast state's checkpointed copy. */
export function broadcastStateName(descriptor: { name: string }): string {
  return `_broadcast/${descriptor.name}`;
}

/**
 * The broadcast states of one subtask, one per descriptor given to `stream.broadcast(...)`, looked up
 * by descriptor name (Flink's operator state backend with BROADCAST mode).
 */
class BroadcastStates {
  private readonly states = new Map<string, HeapBroadcastState<unknown, unknown>>();

  constructor(private readonly descriptors: readonly AnyMapDescriptor[]) {}

  initialize(store: OperatorStateStore, isRestored: boolean): void {
    for (const d of this.descriptors) {
      const state = new HeapBroadcastState<unknown, unknown>(d.name, store.getUnionListState<[unknown, unknown]>(broadcastStateName(d)));
      if (isRestored) state.restore();
      this.states.set(d.name, state);
    }
  }

  writable<K, V>(descriptor: MapStateDescriptor<K, V>): BroadcastState<K, V> {
    return this.lookup(descriptor) as unknown as BroadcastState<K, V>;
  }

  readOnly<K, V>(descriptor: MapStateDescriptor<K, V>): ReadOnlyBroadcastState<K, V> {
    return this.lookup(descriptor).readOnly as unknown as ReadOnlyBroadcastState<K, V>;
  }

  snapshot(): void {
    for (const s of this.states.values()) s.snapshot();
  }

  private lookup(descriptor: { name: string } | undefined): HeapBroadcastState<unknown, unknown> {
    const state = descriptor ? this.states.get(descriptor.name) : undefined;
    if (state) return state;
    const known = [...this.states.keys()].map((n) => `'${n}'`).join(", ");
    throw new RiffleError(
      "STATE_INVALID_ARGUMENT",
      `broadcast state '${descriptor?.name}' does not exist: pass its descriptor to stream.broadcast(...) (registered: ${known || "none"})`,
    );
  }
}

/** The methods both broadcast functions share, bound once. */
function broadcastMethods<C1, C2>(userFunction: unknown): { processElement: ElementFn<C1>; processBroadcastElement: ElementFn<C2> } {
  const processBroadcastElement = (userFunction as { processBroadcastElement?: unknown } | null)?.processBroadcastElement;
  if (typeof processBroadcastElement !== "function") throw new Error("a broadcast process function needs a processBroadcastElement() method");
  return {
    processElement: callable(userFunction, "processElement", "a broadcast process function"),
    processBroadcastElement: processBroadcastElement.bind(userFunction) as ElementFn<C2>,
  };
}

/**
 * Runs a BroadcastProcessFunction (Flink's CoBroadcastWithNonKeyedOperator): input 1 is the
 * non-broadcast stream, input 2 the broadcast stream (every subtask receives every element).
 */
export class BroadcastProcessOperator extends UserFunctionOperator {
  private readonly fn: ElementFn<BroadcastReadOnlyContext>;
  private readonly broadcastFn: ElementFn<BroadcastContext>;
  private readonly states: BroadcastStates;
  private timestamp: number | undefined;
  private watermark = MIN_WATERMARK;
  private rt!: OperatorRuntime;
  private readonly collector: Collector<unknown> = { collect: (r) => this.output.collect(r, this.timestamp) };
  private readonly readOnlyContext: BroadcastReadOnlyContext;
  private readonly context: BroadcastContext;

  constructor(userFunction: unknown, descriptors: readonly AnyMapDescriptor[]) {
    super(userFunction);
    const m = broadcastMethods<BroadcastReadOnlyContext, BroadcastContext>(userFunction);
    this.fn = m.processElement;
    this.broadcastFn = m.processBroadcastElement;
    this.states = new BroadcastStates(descriptors);
    this.readOnlyContext = Object.assign(new LiveContext(() => this.timestamp), {
      currentProcessingTime: () => this.rt.processingTime.getCurrentProcessingTime(),
      currentWatermark: () => this.watermark,
      output: (tag: { id: string }, value: unknown) => this.output.collectSide(tag.id, value, this.timestamp),
      getBroadcastState: (d: AnyMapDescriptor) => this.states.readOnly(d),
    }) as BroadcastReadOnlyContext;
    this.context = Object.assign(new LiveContext(() => this.timestamp), {
      currentProcessingTime: () => this.rt.processingTime.getCurrentProcessingTime(),
      currentWatermark: () => this.watermark,
      output: (tag: { id: string }, value: unknown) => this.output.collectSide(tag.id, value, this.timestamp),
      getBroadcastState: (d: AnyMapDescriptor) => this.states.writable(d),
    }) as BroadcastContext;
  }

  override async initializeState(state: OperatorStateContext): Promise<void> {
    this.states.initialize(state.operator, state.isRestored);
    await super.initializeState(state);
  }

  override async open(rt: OperatorRuntime): Promise<void> {
    this.rt = rt;
    await super.open(rt);
  }

  override snapshotState(checkpointId: number): void {
    this.states.snapshot();
    super.snapshotState(checkpointId);
  }

  processElement(record: unknown, timestamp: number | undefined): void {
    this.timestamp = timestamp;
    this.fn(record, this.readOnlyContext, this.collector);
  }

  override processElement2(record: unknown, timestamp: number | undefined): void {
    this.timestamp = timestamp;
    this.broadcastFn(record, this.context, this.collector);
  }

  override processWatermark(watermark: number): void {
    this.watermark = watermark;
    this.output.emitWatermark(watermark);
  }
}

/**
 * Runs a KeyedBroadcastProcessFunction (Flink's CoBroadcastWithKeyedOperator): input 1 is keyed
 * (keyed state and timers of the current key), input 2 is broadcast. Results of processElement carry
 * the element's timestamp, those of an event-time timer the timer's.
 *
 * Not supported: Flink's `Context.applyToKeyedState` (it iterates every key of the backend, which the
 * keyed state backends cannot do yet).
 */
export class KeyedBroadcastProcessOperator extends KeyedFunctionOperator {
  private readonly fn: ElementFn<KeyedBroadcastOnTimerContext<unknown>>;
  private readonly broadcastFn: ElementFn<BroadcastContext>;
  private readonly states: BroadcastStates;
  private readonly readOnlyContext: KeyedBroadcastOnTimerContext<unknown>;
  private readonly context: BroadcastContext;

  constructor(userFunction: unknown, keySelector: unknown, descriptors: readonly AnyMapDescriptor[]) {
    super(userFunction, keySelector);
    const m = broadcastMethods<KeyedBroadcastOnTimerContext<unknown>, BroadcastContext>(userFunction);
    this.fn = m.processElement;
    this.broadcastFn = m.processBroadcastElement;
    this.states = new BroadcastStates(descriptors);
    this.readOnlyContext = Object.assign(this.keyedContext(), {
      currentProcessingTime: () => this.timers.currentProcessingTime(),
      currentWatermark: () => this.timers.currentWatermark(),
      getBroadcastState: (d: AnyMapDescriptor) => this.states.readOnly(d),
    }) as KeyedBroadcastOnTimerContext<unknown>;
    this.context = Object.assign(new LiveContext(() => this.timestamp), {
      currentProcessingTime: () => this.timers.currentProcessingTime(),
      currentWatermark: () => this.timers.currentWatermark(),
      output: (tag: { id: string }, value: unknown) => this.output.collectSide(tag.id, value, this.timestamp),
      getBroadcastState: (d: AnyMapDescriptor) => this.states.writable(d),
    }) as BroadcastContext;
  }

  override async initializeState(state: OperatorStateContext, rt: OperatorRuntime): Promise<void> {
    await super.initializeState(state, rt);
    this.states.initialize(state.operator, state.isRestored);
  }

  override snapshotState(checkpointId: number): void {
    this.states.snapshot();
    super.snapshotState(checkpointId);
  }

  processElement(record: unknown, timestamp: number | undefined): void {
    this.enter(this.keyOf(record), timestamp);
    this.fn(record, this.readOnlyContext, this.collector);
  }

  override processElement2(record: unknown, timestamp: number | undefined): void {
    this.timestamp = timestamp;
    this.broadcastFn(record, this.context, this.collector);
  }

  protected timerContext(): KeyedBroadcastOnTimerContext<unknown> {
    return this.readOnlyContext;
  }
}
