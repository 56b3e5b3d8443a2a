import { pino, type Logger } from "pino";

export type { Logger } from "pino";

/**
 * Structured JSON logs on stdout. `RIFFLE_LOG_LEVEL` sets the level (default info);
 * `RIFFLE_DEBUG=network,scheduler` turns on debug for those components only.
 *
 * Lines are written synchronously: a process that ends (a TaskManager giving up on its JobManager, a
 * crash) loses none of the lines it logged and keeps their order, so its last line says why it
 * ended. pino's default asynchronous stream can still be writing an earlier line when the process
 * exits, and the line flushed at exit then lands before it. Riffle logs per lifecycle event, never
 * per record, so the time spent writing is small. What it costs otherwise:
 *
 * - A thread that logs waits for the write: when stdout is a pipe nobody drains (a supervisor that
 *   stopped reading, a full terminal buffer), that thread stops at its next line until the reader
 *   catches up; a TaskManager's slot threads, whose loggers write to fd 1 as well, stop with it.
 * - Every thread of a process writes its own lines to the same fd 1. A line is one write(2); on a
 *   pipe one of at most PIPE_BUF bytes (4096 on Linux) arrives whole, but longer lines (a stack
 *   trace) of two threads may interleave.
 */
export function createLogger(component: string, bindings: Record<string, unknown> = {}): Logger {
  const debugComponents = (process.env.RIFFLE_DEBUG ?? "").split(",").map((s) => s.trim());
  const level = debugComponents.includes(component) || debugComponents.includes("*") ? "debug" : (process.env.RIFFLE_LOG_LEVEL ?? "info");
  return pino({ level, base: { component, pid: process.pid, ...bindings } }, pino.destination({ dest: 1, sync: true }));
}

/** A child logger for a subsystem of a process (field `subsystem`), with its own debug switch. */
export function componentLogger(parent: Logger, subsystem: string, bindings: Record<string, unknown> = {}): Logger {
  const debugComponents = (process.env.RIFFLE_DEBUG ?? "").split(",").map((s) => s.trim());
  const child = parent.child({ subsystem, ...bindings });
  if (debugComponents.includes(subsystem)) child.level = "debug";
  return child;
}
