import type { ProcessingTimeService } from "@riffle/sdk/internal";

/**
 * A processing-time service driven by hand (tests): timers fire, in time order, when the test
 * advances the clock past them, as the task's mailbox would run them.
 */
export class ManualProcessingTime implements ProcessingTimeService {
  private timers: { time: number; seq: number; cb: (time: number) => void }[] = [];
  private seq = 0;

  constructor(private now = 0) {}

  getCurrentProcessingTime(): number {
    return this.now;
  }

  registerTimer(time: number, callback: (time: number) => void): () => void {
    const t = { time, seq: this.seq++, cb: callback };
    this.timers.push(t);
    return () => {
      this.timers = this.timers.filter((x) => x !== t);
    };
  }

  /** Moves the clock to `to`, firing every timer due on the way (including ones they register). */
  advanceTo(to: number): void {
    for (;;) {
      let next: (typeof this.timers)[number] | undefined;
      for (const t of this.timers) if (t.time <= to && (!next || t.time < next.time || (t.time === next.time && t.seq < next.seq))) next = t;
      if (!next) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.now = Math.max(this.now, next.time);
      next.cb(next.time);
    }
    this.now = Math.max(this.now, to);
  }

  advanceBy(ms: number): void {
    this.advanceTo(this.now + ms);
  }

  pending(): number {
    return this.timers.length;
  }
}
