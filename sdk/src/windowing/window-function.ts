import { type Collector, type RuntimeContext, callHook, callSnapshotHook, closeFunction, openFunction } from "../api/functions.js";
import type { OutputTag } from "../api/output-tag.js";
import type { Output } from "../operators/operator.js";
import type { InternalKeyedStateBackend } from "../state/backend.js";
import type { AggregateFunction } from "../state/descriptors.js";
import type { ListState } from "../state/state.js";
import type { KeyedStateStore, OperatorStateStore } from "../state/stores.js";
import type { InternalTimerService } from "../time/timer-service.js";
import { RiffleError } from "@riffle/shared";
import type { ProcessWindowContext } from "./functions.js";
import { ScopedStateStore } from "./scoped-state.js";
import type { Window } from "./windows.js";

/** A ProcessWindowFunction (or an all-window one, adapted) as the operators call it. */
export interface InternalProcessFunction {
  process(key: unknown, ctx: ProcessWindowContext<Window>, elements: unknown[], out: Collector<unknown>): void;
  clear(ctx: ProcessWindowContext<Window>): void;
}

/**
 * What a windowed stream evaluates: an incremental reduce or aggregate (optionally handing its result
 * to a process function), or a process function over all elements.
 */
export type WindowFunctionSpec =
  | { kind: "reduce"; reduce: (a: unknown, b: unknown) => unknown; process: InternalProcessFunction | undefined }
  | { kind: "aggregate"; aggregate: AggregateFunction<unknown, unknown, unknown>; process: InternalProcessFunction | undefined }
  | { kind: "process"; process: InternalProcessFunction };

/**
 * The context a window function gets, reused for every evaluation: the operator sets `window` and
 * `namespace` before each. Per-window state is scoped to the window's namespace and cleared with the
 * window (`clearWindowState`); per-key state to the default namespace.
 */
export class WindowProcessContext implements ProcessWindowContext<Window> {
  window!: Window;
  namespace = "";
  private windowStore: ScopedStateStore | undefined;
  private globalStore: ScopedStateStore | undefined;
  /**
   * Names of the states used through windowState(), here or by any subtask before the restore:
   * cleared in every window the operator removes. The restored ones matter because a window may be
   * removed before its function runs again after a restore (its cleanup timer being the first to fire).
   */
  private readonly perWindow = new Set<string>();
  /** The names, checkpointed as union operator state: a handful of strings, whatever the key groups. */
  private readonly perWindowNames: ListState<string>;

  constructor(
    private readonly backend: InternalKeyedStateBackend,
    private readonly timers: () => InternalTimerService,
    private readonly out: () => Output,
    private readonly merging: boolean,
    operatorState: OperatorStateStore,
  ) {
    this.perWindowNames = operatorState.getUnionListState<string>("_window/per-window-states");
    for (const name of this.perWindowNames.get()) this.perWindow.add(name);
  }

  currentProcessingTime(): number {
    return this.timers().currentProcessingTime();
  }

  currentWatermark(): number {
    return this.timers().currentWatermark();
  }

  windowState(): KeyedStateStore {
    if (this.merging) throw new RiffleError("JOB_INVALID_GRAPH", "per-window state is not available with merging (session) windows");
    this.windowStore ??= new ScopedStateStore(
      this.backend,
      () => this.namespace,
      (d) => this.perWindow.add(d.name),
    );
    return this.windowStore;
  }

  globalState(): KeyedStateStore {
    this.globalStore ??= new ScopedStateStore(this.backend, () => "");
    return this.globalStore;
  }

  output<X>(tag: OutputTag<X>, value: X): void {
    this.out().collectSide(tag.id, value, this.window.maxTimestamp());
  }

  /** Clears the per-window state of the current window (every per-window state used so far, see perWindow). */
  clearWindowState(): void {
    if (this.perWindow.size === 0) return;
    this.backend.setCurrentNamespace(this.namespace);
    for (const name of this.perWindow) this.backend.clearState(name);
  }

  /** Synchronous part of a checkpoint: the per-window state names, for clearing after a restore. */
  snapshot(): void {
    if (this.perWindow.size > 0) this.perWindowNames.update([...this.perWindow]);
  }
}

/**
 * One object carrying the lifecycle hooks (open, close, checkpoint hooks) of every user function of a
 * window operator (the reduce or aggregate function and the process function), for KeyedOperator.
 */
export function combineHooks(fns: readonly unknown[]): object {
  const objects = [...new Set(fns.filter((f) => f !== null && typeof f === "object"))];
  return {
    async initializeState(ctx: unknown) {
      for (const f of objects) await callHook(f, "initializeState", ctx);
    },
    async open(ctx: RuntimeContext) {
      for (const f of objects) await openFunction(f, ctx);
    },
    snapshotState(ctx: { checkpointId: number }) {
      for (const f of objects) callSnapshotHook(f, ctx.checkpointId);
    },
    async notifyCheckpointComplete(id: number) {
      for (const f of objects) await callHook(f, "notifyCheckpointComplete", id);
    },
    async notifyCheckpointAborted(id: number) {
      for (const f of objects) await callHook(f, "notifyCheckpointAborted", id);
    },
    async close() {
      for (const f of objects) await closeFunction(f);
    },
  };
}
