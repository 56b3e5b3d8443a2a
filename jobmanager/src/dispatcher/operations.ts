import { randomUUID } from "node:crypto";
import { RiffleError, toRiffleError, type ErrorCode } from "@riffle/shared";

/** The asynchronous operations a user triggers on a job and then polls, each in its own namespace of trigger ids. */
export type OperationKind = "savepoint" | "rescale";

/** An operation's state as the REST API reports it (Flink's AsynchronousOperationResult). */
export type OperationState =
  | { status: "IN_PROGRESS" }
  | { status: "COMPLETED"; location: string }
  | { status: "FAILED"; failure: { code: ErrorCode; message: string } };

/** Operations kept after they ended, newest last; beyond this the oldest ended ones are forgotten. */
const MAX_OPERATIONS = 1_000;

interface Entry {
  jobId: string;
  kind: OperationKind;
  state: OperationState;
  /** Resolves with the final state once the work ended. */
  settled: Promise<OperationState>;
}

/**
 * Savepoint, stop and rescale requests by trigger id (Flink's CompletedOperationCache): started with
 * the work's promise, which resolves with the savepoint's location; polled until it ends. Bounded:
 * ended operations beyond MAX_OPERATIONS are dropped, oldest first.
 */
export class AsyncOperations {
  private readonly entries = new Map<string, Entry>();

  /** Registers `work` under a new trigger id (32 hex characters) and returns the id. */
  start(jobId: string, kind: OperationKind, work: Promise<string>): string {
    const triggerId = randomUUID().replaceAll("-", "");
    const entry: Entry = { jobId, kind, state: { status: "IN_PROGRESS" }, settled: Promise.resolve({ status: "IN_PROGRESS" }) };
    this.entries.set(triggerId, entry);
    entry.settled = work.then(
      (location) => {
        entry.state = { status: "COMPLETED", location };
        return entry.state;
      },
      (err: unknown) => {
        const e = toRiffleError(err);
        entry.state = { status: "FAILED", failure: { code: e.code, message: e.message } };
        return entry.state;
      },
    );
    this.evict();
    return triggerId;
  }

  /** The state of an operation of `kind` on the job; OPERATION_NOT_FOUND for an unknown (or forgotten) trigger id. */
  get(jobId: string, kind: OperationKind, triggerId: string): OperationState {
    const entry = this.entries.get(triggerId);
    if (!entry || entry.jobId !== jobId || entry.kind !== kind) {
      throw new RiffleError("OPERATION_NOT_FOUND", `job ${jobId} has no ${kind} operation with trigger id ${triggerId}`);
    }
    return entry.state;
  }

  /** Resolves with the operation's final state once it ended; OPERATION_NOT_FOUND as `get`. */
  settled(jobId: string, kind: OperationKind, triggerId: string): Promise<OperationState> {
    this.get(jobId, kind, triggerId);
    return this.entries.get(triggerId)!.settled;
  }

  private evict(): void {
    if (this.entries.size <= MAX_OPERATIONS) return;
    for (const [id, entry] of this.entries) {
      if (this.entries.size <= MAX_OPERATIONS) return;
      if (entry.state.status !== "IN_PROGRESS") this.entries.delete(id);
    }
  }
}
