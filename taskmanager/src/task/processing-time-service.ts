import type { ProcessingTimeService } from "@riffle/sdk/internal";
import type { Mailbox } from "./mailbox.js";

/**
 * A task's processing time (Flink's ProcessingTimeService): wall-clock time, and timers whose
 * callbacks run as mail in the task's loop, between records, never concurrently with processElement.
 * `shutdown()` (the task ended, failed or was cancelled) drops every pending timer, including ones
 * that fired and whose mail has not run yet.
 */
export class MailboxProcessingTimeService implements ProcessingTimeService {
  private readonly pending = new Set<{ handle: NodeJS.Timeout | undefined; cancelled: boolean }>();
  private stopped = false;

  constructor(private readonly mailbox: Mailbox) {}

  getCurrentProcessingTime(): number {
    return Date.now();
  }

  /**
   * Fires once the clock has passed `time` (Flink's +1 ms, ProcessingTimeServiceUtil): as a watermark
   * T promises no more elements at or before T, a timer for T fires only when no record can still
   * arrive at T, so a window ending at T is complete when it fires. Node's timers run on a truncated
   * monotonic clock and can wake a millisecond before the wall clock agrees; they are then re-armed.
   */
  registerTimer(time: number, callback: (time: number) => void): () => void {
    if (this.stopped) return () => {};
    const timer: { handle: NodeJS.Timeout | undefined; cancelled: boolean } = { handle: undefined, cancelled: false };
    const arm = () => {
      timer.handle = setTimeout(
        () => {
          if (Date.now() <= time) {
            arm();
            return;
          }
          this.pending.delete(timer);
          this.mailbox.put(() => {
            if (!timer.cancelled && !this.stopped) callback(time);
          });
        },
        Math.max(0, time - Date.now() + 1),
      );
    };
    arm();
    this.pending.add(timer);
    return () => {
      timer.cancelled = true;
      if (this.pending.delete(timer)) clearTimeout(timer.handle);
    };
  }

  /** Timers waiting to fire (for tests and metrics). */
  get pendingTimers(): number {
    return this.pending.size;
  }

  shutdown(): void {
    this.stopped = true;
    for (const timer of this.pending) {
      timer.cancelled = true;
      clearTimeout(timer.handle);
    }
    this.pending.clear();
  }
}
