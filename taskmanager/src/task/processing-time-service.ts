import type { ProcessingTimeService } from "@riffle/sdk/internal";
import type { Mailbox } from "./mailbox.js";

/**
 * A task's processing time (Flink's ProcessingTimeService): wall-clock time, and timers whose
 * callbacks run as mail in the task's loop, between records, never concurrently with processElement.
 * `shutdown()` (the task ended, failed or was cancelled) drops every pending timer, including ones
 * that fired and whose mail has not run yet.
 */
export class MailboxProcessingTimeService implements ProcessingTimeService {
  private readonly pending = new Map<NodeJS.Timeout, { cancelled: boolean }>();
  private stopped = false;

  constructor(private readonly mailbox: Mailbox) {}

  getCurrentProcessingTime(): number {
    return Date.now();
  }

  registerTimer(time: number, callback: (time: number) => void): () => void {
    if (this.stopped) return () => {};
    const state = { cancelled: false };
    const handle = setTimeout(
      () => {
        this.pending.delete(handle);
        this.mailbox.put(() => {
          if (!state.cancelled && !this.stopped) callback(time);
        });
      },
      Math.max(0, time - Date.now()),
    );
    this.pending.set(handle, state);
    return () => {
      state.cancelled = true;
      if (this.pending.delete(handle)) clearTimeout(handle);
    };
  }

  /** Timers waiting to fire (for tests and metrics). */
  get pendingTimers(): number {
    return this.pending.size;
  }

  shutdown(): void {
    this.stopped = true;
    for (const [handle, state] of this.pending) {
      state.cancelled = true;
      clearTimeout(handle);
    }
    this.pending.clear();
  }
}
