import { RateMeter } from "@riffle/shared";

/**
 * Time accounting of the mailbox loop, as Flink's: time waiting for input is idle, time waiting for
 * output buffers (or a full sink) is back-pressured, time running the task's code is busy. Time the
 * task has yielded to other tasks of the process counts as none of them.
 */
export class TaskMetrics {
  recordsIn = 0;
  /** Bytes decoded from buffers of remote channels; local channels pass records by reference. */
  bytesIn = 0;
  busyMs = 0;
  idleMs = 0;
  backPressuredMs = 0;
  readonly busy = new RateMeter();
  readonly idle = new RateMeter();
  readonly backPressured = new RateMeter();
  readonly recordsInRate = new RateMeter();
  readonly recordsOutRate = new RateMeter();

  tick(now: number, recordsOut: number): void {
    this.busy.tick(this.busyMs, now);
    this.idle.tick(this.idleMs, now);
    this.backPressured.tick(this.backPressuredMs, now);
    this.recordsInRate.tick(this.recordsIn, now);
    this.recordsOutRate.tick(recordsOut, now);
  }

  /** Milliseconds per second, capped at 1000 (samples are taken on a timer that may run late). */
  static perSecond(meter: RateMeter): number {
    return Math.min(1000, Math.max(0, meter.rate()));
  }
}
