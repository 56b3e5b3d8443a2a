import { type Collector, type RuntimeContext, openFunction } from "../api/functions.js";
import { KeyedOperator } from "../operators/keyed.js";
import type { OperatorRuntime, OperatorStateContext } from "../operators/operator.js";
import { DEFAULT_NAMESPACE, type InternalKeyedStateBackend } from "../state/backend.js";
import type { KeyedStateStore } from "../state/stores.js";
import type { InternalTimer, InternalTimerService, Triggerable } from "../time/timer-service.js";
import { ScopedStateStore } from "./scoped-state.js";
import { WindowProcessContext } from "./window-function.js";

/**
 * What the window operators (per window, and by slices) share: the timer service windows fire on, the
 * context window functions get (per-window state whose names are checkpointed), the collector that
 * stamps results with the window's end, and the user function's open with key-scoped state.
 */
export abstract class WindowOperatorBase extends KeyedOperator implements Triggerable {
  protected timers!: InternalTimerService;
  protected processContext!: WindowProcessContext;
  /** The timestamp results carry: the fired window's maxTimestamp. */
  protected emitTimestamp = 0;
  protected readonly collector: Collector<unknown> = { collect: (r) => this.output.collect(r, this.emitTimestamp) };

  /** Creates the timer service and the window functions' context; call from initializeState. */
  protected initializeWindowing(state: OperatorStateContext, merging: boolean): void {
    this.timers = this.getInternalTimerService("window-timers", this);
    this.processContext = new WindowProcessContext(
      this.backend,
      () => this.timers,
      () => this.output,
      merging,
      state.operator,
    );
  }

  override snapshotState(checkpointId: number): void {
    this.processContext.snapshot();
    super.snapshotState(checkpointId);
  }

  override async open(rt: OperatorRuntime): Promise<void> {
    await openFunction(this.userFunction, windowRuntimeContext(rt.ctx, this.backend));
  }

  abstract onEventTime(timer: InternalTimer): void;
  abstract onProcessingTime(timer: InternalTimer): void;
}

/** The runtime context window functions get in open(): state from it is per key (the default namespace), as in Flink. */
export function windowRuntimeContext(ctx: RuntimeContext, backend: InternalKeyedStateBackend): RuntimeContext & KeyedStateStore {
  const store = new ScopedStateStore(backend, () => DEFAULT_NAMESPACE);
  return {
    ...ctx,
    getState: (d) => store.getState(d),
    getListState: (d) => store.getListState(d),
    getMapState: (d) => store.getMapState(d),
    getReducingState: (d) => store.getReducingState(d),
    getAggregatingState: (d) => store.getAggregatingState(d),
  };
}
