import { describeError, toRiffleError } from "@riffle/shared";

/**
 * The CLI's own error kinds. Everything else that reaches `main` is a RiffleError (or is normalised
 * into one) and is printed as `error[CODE]: message` with exit code 1.
 */

/** Signal numbers for the exit code 128 + n that shells expect after an interrupt. */
const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGPIPE: 13, SIGTERM: 15 };

/** The user (or a closed stdout) interrupted the command; it stopped what it started and exits quietly. */
export class InterruptedError extends Error {
  override readonly name = "InterruptedError";

  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }

  get exitCode(): number {
    return 128 + (SIGNAL_NUMBERS[this.signal] ?? 0);
  }
}

/** Prints an error the way every `riffle` command does and returns the exit code to use. */
export function reportError(err: unknown, stderr: NodeJS.WritableStream = process.stderr): number {
  if (err instanceof InterruptedError) return err.exitCode;
  const e = toRiffleError(err);
  const message = e.code === "INTERNAL" ? describeError(e) : e.message;
  stderr.write(`error[${e.code}]: ${message}\n`);
  if (e.code === "INTERNAL" && debugEnabled() && e.stack) stderr.write(`${e.stack}\n`);
  return 1;
}

function debugEnabled(): boolean {
  const components = (process.env.RIFFLE_DEBUG ?? "").split(",").map((s) => s.trim());
  return components.includes("cli") || components.includes("*");
}

/** The `error[CODE]: message` line a riffle process prints last when it fails. */
export const ERROR_LINE = /^error\[([A-Z_]+)\]: (.*)$/;
