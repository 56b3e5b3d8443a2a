/**
 * Time and timers as a collaborator. Components that wait (checkpoint intervals and timeouts,
 * restart delays, cancel and slot timeouts) take a Clock in their constructor, so tests move time by
 * hand with a ManualClock instead of sleeping.
 *
 * ```ts
 * const clock = new ManualClock(1_000);
 * clock.schedule(() => console.log("fired at", clock.now()), 500);
 * clock.advance(500); // fired at 1500
 * ```
 */

/** Withdraws a scheduled task; calling it after the task ran does nothing. */
export type Cancel = () => void;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `task` once, `delayMs` from now. */
  schedule(task: () => void, delayMs: number): Cancel;
}

/** The process's wall clock and timers. */
export const SystemClock: Clock = {
  now: () => Date.now(),
  schedule(task, delayMs) {
    // Looked up at call time, so tests that fake the global timers fake these too.
    const timer = setTimeout(task, delayMs);
    return () => clearTimeout(timer);
  },
};

interface ManualTask {
  at: number;
  seq: number;
  task: () => void;
}

/** A clock that moves only when told to; due tasks run inside `advance`, in time order. */
export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly tasks: ManualTask[] = [];

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  schedule(task: () => void, delayMs: number): Cancel {
    const entry: ManualTask = { at: this.time + Math.max(0, delayMs), seq: this.seq++, task };
    this.tasks.push(entry);
    return () => {
      const i = this.tasks.indexOf(entry);
      if (i >= 0) this.tasks.splice(i, 1);
    };
  }

  /** Moves time forward by `ms`, running every task that falls due, including tasks scheduled meanwhile. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const next = this.nextDue(end);
      if (!next) break;
      this.tasks.splice(this.tasks.indexOf(next), 1);
      this.time = Math.max(this.time, next.at);
      next.task();
    }
    this.time = end;
  }

  /** Tasks scheduled and not yet run or cancelled. */
  get pending(): number {
    return this.tasks.length;
  }

  private nextDue(end: number): ManualTask | undefined {
    let best: ManualTask | undefined;
    for (const t of this.tasks) {
      if (t.at > end) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}
