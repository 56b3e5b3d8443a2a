import { Signal } from "../network/signal.js";

/**
 * Control actions (flushes, cancellation; later checkpoint triggers and timers) enter a task through
 * its mailbox and run between records on the task's own loop, so task state needs no locks.
 */
export class Mailbox {
  private readonly mails: Array<() => void> = [];
  private readonly signal = new Signal();

  put(mail: () => void): void {
    this.mails.push(mail);
    this.signal.notify();
  }

  hasMail(): boolean {
    return this.mails.length > 0;
  }

  runAll(): void {
    while (this.mails.length > 0) this.mails.shift()!();
  }

  /** Resolves when mail arrives: every wait of the task loop races this. */
  arrival(): Promise<void> {
    return this.signal.wait();
  }
}
