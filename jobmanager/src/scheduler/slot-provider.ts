import { RiffleError, type Logger } from "@riffle/shared";
import { type Cancel, type Clock, SystemClock } from "../clock.js";
import type { SlotRef } from "../registry/index.js";

/** The part of the TaskManager registry that hands out slots. */
export interface SlotPool {
  allocate(jobId: string, needed: number): SlotRef[] | undefined;
  release(slot: SlotRef, jobId: string): boolean;
  slotCounts(): { taskmanagers: number; slotsAvailable: number };
}

export interface SlotRequest {
  /** Resolves with the slots in job-slot order; rejects with NO_RESOURCE_AVAILABLE after the timeout. */
  readonly promise: Promise<SlotRef[]>;
  /** Withdraws a pending request; the promise then never settles. */
  cancel(): void;
}

interface Pending {
  jobId: string;
  needed: number;
  resolve(slots: SlotRef[]): void;
  cancelTimeout: Cancel;
}

/**
 * Gives jobs their slots, or makes them wait for slots: a waiting request is retried when a
 * TaskManager registers or slots are released, in order of arrival, and fails after the
 * slot-request timeout.
 */
export class SlotProvider {
  private readonly pending: Pending[] = [];
  /** Why no more slots are coming, from whoever starts TaskManagers (the resource manager); added to NO_RESOURCE_AVAILABLE. */
  private shortageReason: () => string | undefined = () => undefined;

  constructor(
    private readonly pool: SlotPool,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
    private readonly clock: Clock = SystemClock,
  ) {}

  /** Lets the resource manager say why slots are missing (its provider fails to start TaskManagers). */
  explainShortage(reason: () => string | undefined): void {
    this.shortageReason = reason;
  }

  request(jobId: string, needed: number): SlotRequest {
    const slots = this.pool.allocate(jobId, needed);
    if (slots) return { promise: Promise.resolve(slots), cancel: () => {} };
    let entry: Pending | undefined;
    const promise = new Promise<SlotRef[]>((resolve, reject) => {
      const cancelTimeout = this.clock.schedule(() => {
        this.remove(entry!);
        const { slotsAvailable, taskmanagers } = this.pool.slotCounts();
        const why = this.shortageReason();
        reject(
          new RiffleError(
            "NO_RESOURCE_AVAILABLE",
            `job needs ${plural(needed, "slot")} but only ${slotsAvailable} ${slotsAvailable === 1 ? "is" : "are"} free (${plural(taskmanagers, "TaskManager")} registered); ${why ? `${why}; ` : ""}start more TaskManagers or lower the parallelism`,
          ),
        );
      }, this.timeoutMs);
      entry = { jobId, needed, resolve, cancelTimeout };
    });
    this.pending.push(entry!);
    const { slotsAvailable } = this.pool.slotCounts();
    this.logger.info({ jobId, needed, slotsAvailable, timeoutMs: this.timeoutMs }, "waiting for free slots");
    return { promise, cancel: () => this.remove(entry!) };
  }

  /** Slots asked for by requests still waiting: what the resource manager starts TaskManagers for. */
  pendingSlots(): number {
    return this.pending.reduce((sum, p) => sum + p.needed, 0);
  }

  /** Frees a job's slots and lets waiting jobs take them. */
  release(jobId: string, slots: readonly SlotRef[]): void {
    let freed = false;
    for (const slot of slots) freed = this.pool.release(slot, jobId) || freed;
    if (freed) this.resourcesChanged();
  }

  /** Slots may have become free (a TaskManager registered, a job let go): serve waiting requests. */
  resourcesChanged(): void {
    for (const entry of [...this.pending]) {
      const slots = this.pool.allocate(entry.jobId, entry.needed);
      if (!slots) continue;
      this.remove(entry);
      entry.resolve(slots);
    }
  }

  close(): void {
    for (const entry of this.pending) entry.cancelTimeout();
    this.pending.length = 0;
  }

  private remove(entry: Pending): void {
    entry.cancelTimeout();
    const i = this.pending.indexOf(entry);
    if (i >= 0) this.pending.splice(i, 1);
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
