import { InterruptedError } from "./errors.js";

/**
 * Turns Ctrl-C (SIGINT), SIGTERM, SIGHUP and a closed stdout (EPIPE, e.g. `riffle run job.ts | head`)
 * into an aborted signal, so a long command can stop what it started and exit. A second signal while
 * it cleans up exits at once with 128 + the signal number.
 */
export class Interrupts {
  private readonly controller = new AbortController();
  private readonly signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  private readonly onSignal = (signal: NodeJS.Signals) => this.interrupt(signal);
  /** stdout can fail only by its reader going away (EPIPE): nobody reads the output any more. */
  private readonly onStdoutError = () => this.interrupt("SIGPIPE");

  constructor() {
    for (const s of this.signals) process.on(s, this.onSignal);
    process.stdout.on("error", this.onStdoutError);
  }

  /** Aborted on the first interrupt; its reason is an {@link InterruptedError}. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Throws the InterruptedError when interrupted. */
  throwIfInterrupted(): void {
    if (this.controller.signal.aborted) throw this.controller.signal.reason;
  }

  dispose(): void {
    for (const s of this.signals) process.off(s, this.onSignal);
    process.stdout.off("error", this.onStdoutError);
  }

  private interrupt(signal: NodeJS.Signals): void {
    if (this.controller.signal.aborted) {
      if (signal !== "SIGPIPE") process.exit(new InterruptedError(signal).exitCode);
      return;
    }
    this.controller.abort(new InterruptedError(signal));
  }
}

/**
 * Resolves when a server process should shut down: on SIGINT, SIGTERM or SIGHUP, or when the parent
 * that spawned it with an IPC channel (the embedded cluster of `riffle run`) goes away, so a killed CLI
 * leaves no processes behind. A second signal exits at once.
 */
export function shutdownRequested(): { promise: Promise<string>; dispose(): void } {
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  let requested = false;
  let resolve!: (reason: string) => void;
  const promise = new Promise<string>((r) => {
    resolve = r;
  });
  const request = (reason: string, exitCode: number) => {
    if (requested) process.exit(exitCode);
    requested = true;
    resolve(reason);
  };
  const onSignal = (signal: NodeJS.Signals) => request(signal, new InterruptedError(signal).exitCode);
  const onDisconnect = () => request("parent process gone", 1);
  for (const s of signals) process.on(s, onSignal);
  if (process.channel) {
    process.on("disconnect", onDisconnect);
    // The channel is only a lifeline: it must not keep the process alive by itself.
    process.channel.unref();
  }
  return {
    promise,
    dispose() {
      for (const s of signals) process.off(s, onSignal);
      process.off("disconnect", onDisconnect);
    },
  };
}
