/**
 * A resettable notification: `wait()` returns a promise that the next `notify()` resolves. The
 * availability futures of the network stack are built from these, so waiting never polls.
 */
export class Signal {
  private promise: Promise<void> | undefined;
  private resolve: (() => void) | undefined;

  wait(): Promise<void> {
    if (!this.promise) this.promise = new Promise<void>((r) => (this.resolve = r));
    return this.promise;
  }

  notify(): void {
    const resolve = this.resolve;
    this.promise = undefined;
    this.resolve = undefined;
    resolve?.();
  }
}
