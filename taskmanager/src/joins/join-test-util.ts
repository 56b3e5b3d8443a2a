import { keyGroupRangeForSubtask } from "@riffle/shared";
import type { RestoredCheckpoint, RuntimeContext } from "@riffle/sdk";
import type { OperatorRuntime, StreamOperator } from "@riffle/sdk/internal";
import { type KeyedStateHandle, MemoryKeyedStateBackend, OperatorStateBackend, type OperatorStateHandle } from "../state/index.js";
import { ManualProcessingTime, prng, testRuntimeContext } from "../testing/index.js";

/** A small seeded PRNG (mulberry32): the same seed gives the same data on every run. */
export function seededRandom(seed: number): { next(): number; int(lo: number, hi: number): number; pick<T>(xs: readonly T[]): T; bool(p?: number): boolean } {
  const next = prng(seed);
  return {
    next,
    /** An integer in [lo, hi]. */
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)]!,
    bool: (p = 0.5) => next() < p,
  };
}

/** Sorted copy: compare outputs as multisets. */
export function sorted<T>(xs: readonly T[]): T[] {
  return [...xs].sort((a, b) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0));
}

export interface Emitted {
  value: unknown;
  timestamp: number | undefined;
}

export interface HarnessOptions {
  subtaskIndex?: number;
  parallelism?: number;
  maxParallelism?: number;
  clock?: ManualProcessingTime;
  /** The run of the subtask (RuntimeContext.attempt): a restored subtask runs a later one. Default 0. */
  attempt?: number;
  /** Restore from these snapshots (of every old subtask), as the task does on recovery or rescaling. */
  restore?: { dir: string; keyed: KeyedStateHandle[]; operator: OperatorStateHandle[] };
  /** What the restore is of, as a task tells its operators (unsaid by default). */
  restoredFrom?: RestoredCheckpoint;
}

/**
 * Drives one (two-input) operator by hand with real state backends, the way a task would: for
 * operator tests that need snapshots, restores at another parallelism, or a look at the state.
 */
export class OperatorHarness {
  readonly records: Emitted[] = [];
  readonly sides = new Map<string, Emitted[]>();
  readonly watermarks: number[] = [];

  private constructor(
    readonly operator: StreamOperator,
    readonly keyed: MemoryKeyedStateBackend,
    readonly operatorState: OperatorStateBackend,
    readonly clock: ManualProcessingTime,
  ) {}

  static async open(operator: StreamOperator, options: HarnessOptions = {}): Promise<OperatorHarness> {
    const subtaskIndex = options.subtaskIndex ?? 0;
    const parallelism = options.parallelism ?? 1;
    const maxParallelism = options.maxParallelism ?? 128;
    const clock = options.clock ?? new ManualProcessingTime(0);
    const keyed = new MemoryKeyedStateBackend({
      maxParallelism,
      keyGroupRange: keyGroupRangeForSubtask(subtaskIndex, parallelism, maxParallelism),
      clock: () => clock.getCurrentProcessingTime(),
    });
    const operatorState = new OperatorStateBackend({ subtaskIndex, parallelism });
    if (options.restore) {
      await keyed.restore(options.restore.dir, options.restore.keyed);
      await operatorState.restore(options.restore.dir, options.restore.operator);
    }
    const h = new OperatorHarness(operator, keyed, operatorState, clock);
    operator.output = {
      collect: (value, timestamp) => h.records.push({ value, timestamp }),
      emitWatermark: (wm) => h.watermarks.push(wm),
      emitWatermarkStatus() {},
      collectSide: (tag, value, timestamp) => {
        const list = h.sides.get(tag) ?? [];
        list.push({ value, timestamp });
        h.sides.set(tag, list);
      },
    };
    const ctx: RuntimeContext = testRuntimeContext({
      jobId: "harness",
      jobName: "harness",
      taskName: "harness",
      subtaskIndex,
      parallelism,
      maxParallelism,
      attempt: options.attempt ?? 0,
    });
    const rt: OperatorRuntime = { ctx, services: { collect: async () => {} }, processingTime: clock, autoWatermarkIntervalMs: 200 };
    await operator.initializeState(
      { keyed, operator: operatorState, isRestored: options.restore !== undefined, ...(options.restoredFrom ? { restoredFrom: options.restoredFrom } : {}) },
      rt,
    );
    await operator.open(rt);
    return h;
  }

  values(): unknown[] {
    return this.records.map((r) => r.value);
  }

  /** Barrier `id` at the operator, as the task runs it: the pre-barrier work (awaited), then the synchronous snapshot. */
  async barrier(id: number): Promise<void> {
    await this.operator.prepareSnapshotPreBarrier(id);
    this.operator.snapshotState(id);
  }

  /** Checkpoint `id`: the barrier at the operator, then both backends written to `dir`. */
  async snapshot(id: number, dir: string): Promise<{ keyed: KeyedStateHandle; operator: OperatorStateHandle }> {
    await this.barrier(id);
    const keyed = this.keyed.snapshot();
    const operator = this.operatorState.snapshot();
    return { keyed: await keyed.write(dir), operator: await operator.write(dir) };
  }

  async close(): Promise<void> {
    await this.operator.close();
    await this.keyed.dispose();
  }
}
