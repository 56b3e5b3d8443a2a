import type { RuntimeContext } from "../api/functions.js";
import type { SinkServices } from "../api/sink.js";
import type { InternalKeyedStateBackend } from "../state/backend.js";
import type { OperatorStateStore } from "../state/stores.js";

/** Where an operator sends its results: the next operator of the chain, or a network output. */
export interface Output {
  collect(record: unknown): void;
}

export interface OperatorRuntime {
  readonly ctx: RuntimeContext;
  readonly services: SinkServices;
}

/** The state of one operator of one subtask, created by the task before the operator opens. */
export interface OperatorStateContext {
  /** Keyed state for operators after a keyBy. */
  readonly keyed: InternalKeyedStateBackend | undefined;
  readonly operator: OperatorStateStore;
  readonly isRestored: boolean;
}

/**
 * The operator contract (after Arroyo's): one required method, `processElement`; every other hook has
 * a default. Operators run inside the task's mailbox loop, so they never need locks; processElement is
 * synchronous and must not block.
 */
export abstract class StreamOperator {
  output: Output = DISCARD;

  /** Sets up checkpointed state (restored, when the job restores), before open. */
  initializeState(_state: OperatorStateContext, _rt: OperatorRuntime): void | Promise<void> {}

  open(_rt: OperatorRuntime): void | Promise<void> {}

  /** Synchronous part of checkpoint n: put everything the operator holds outside its state into it. */
  snapshotState(_checkpointId: number): void {}

  notifyCheckpointComplete(_checkpointId: number): void | Promise<void> {}

  notifyCheckpointAborted(_checkpointId: number): void | Promise<void> {}

  abstract processElement(record: unknown): void;

  /** The operator's input has ended: emit or write out anything held back. */
  endInput(): void | Promise<void> {}

  close(): void | Promise<void> {}

  /** False while the operator cannot take records (a sink with a full outlet). */
  isAvailable(): boolean {
    return true;
  }

  available(): Promise<void> {
    return Promise.resolve();
  }
}

export const DISCARD: Output = { collect() {} };

/** Sends each record to several outputs (an operator feeding more than one consumer). */
export class BroadcastingOutput implements Output {
  constructor(private readonly outputs: readonly Output[]) {}

  collect(record: unknown): void {
    for (let i = 0; i < this.outputs.length; i++) this.outputs[i]!.collect(record);
  }
}

export function combineOutputs(outputs: readonly Output[]): Output {
  if (outputs.length === 0) return DISCARD;
  if (outputs.length === 1) return outputs[0]!;
  return new BroadcastingOutput(outputs);
}

/** A user function given as a plain function or as an object with the named method. */
export function callable<F extends (...args: never[]) => unknown>(fn: unknown, method: string, what: string): F {
  if (typeof fn === "function") return fn as F;
  const m = (fn as Record<string, unknown> | null)?.[method];
  if (typeof m === "function") return m.bind(fn) as F;
  throw new Error(`${what} must be a function or an object with a ${method}() method`);
}
