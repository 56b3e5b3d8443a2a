import { createLogger, describeError, toRiffleError, type Logger, type RiffleError } from "@riffle/shared";
import { shutdownRequested } from "../interrupts.js";

/** A server process's lifecycle: created by `create`, closed on request or when it fails by itself. */
export interface Closeable {
  close(): Promise<void>;
  /**
   * Settles when the server stops by itself: rejects on a fatal error (a TaskManager that gave up on
   * its JobManager), after which the process exits non-zero so that a supervisor restarts it.
   */
  readonly terminated?: Promise<void>;
}

export interface ServeOptions {
  /** The process's name in its last log line (`TaskManager`, `JobManager`). */
  name: string;
  /** Where that line goes; the same structured stdout log the server writes. */
  log?: ServeLog;
  /** Longest wait for the close after a fatal error before the process exits anyway. */
  closeTimeoutMs?: number;
}

/** What serve writes to the log. */
export type ServeLog = Pick<Logger, "fatal" | "warn">;

/** How a server's run ended. */
type Ending = { type: "requested" } | { type: "terminated" } | { type: "failed"; error: RiffleError };

/**
 * Runs a long-lived server (`riffle jobmanager`, `riffle taskmanager`): creates it, then waits for
 * whichever comes first:
 *
 *   SIGINT / SIGTERM / SIGHUP / parent gone ──► close ──► exit 0
 *   the server's `terminated` resolves      ──► exit 0 (it closed itself)
 *   `terminated` rejects, or an uncaught    ──► close (at most `closeTimeoutMs`), log the reason as
 *   exception or unhandled rejection            the last line, throw: the CLI prints
 *                                               `error[CODE]: ...` and exits 1
 *
 * A stop requested during startup aborts the signal `create` gets: a server that can stop starting
 * (a TaskManager still registering) rejects and the process exits 0; one that completes its startup
 * is then closed at once, exit 0 as well. A startup that fails otherwise ends like a fatal error: its
 * reason in the last log line, exit 1. A second signal exits at once.
 */
export async function serve(create: (signal: AbortSignal) => Promise<Closeable>, options: ServeOptions): Promise<number> {
  const shutdown = shutdownRequested();
  const fatal = fatalErrors();
  const stopStarting = new AbortController();
  void shutdown.promise.then(() => stopStarting.abort());
  try {
    const created = await Promise.race<{ server: Closeable } | { error: RiffleError }>([
      create(stopStarting.signal).then(
        (server) => ({ server }),
        (err: unknown) => ({ error: toRiffleError(err) }),
      ),
      fatal.promise.then((error) => ({ error })),
    ]);
    if ("error" in created) {
      // Asked to stop while starting: whatever the startup ended with, that is the requested end.
      if (stopStarting.signal.aborted) return 0;
      throw logExit(created.error, options);
    }
    const { server } = created;
    const ending = await Promise.race<Ending>([
      shutdown.promise.then(() => ({ type: "requested" })),
      fatal.promise.then((error) => ({ type: "failed", error })),
      ...(server.terminated
        ? [
            server.terminated.then<Ending, Ending>(
              () => ({ type: "terminated" }),
              (err: unknown) => ({ type: "failed", error: toRiffleError(err) }),
            ),
          ]
        : []),
    ]);
    if (ending.type === "requested") {
      await server.close();
      return 0;
    }
    if (ending.type === "terminated") return 0;
    await closeWithin(server, options.closeTimeoutMs ?? 10_000, options.log);
    throw logExit(ending.error, options);
  } finally {
    shutdown.dispose();
    fatal.dispose();
  }
}

/**
 * Logs why the process exits, as its last line (after the close's own lines): a supervisor reading
 * the log's tail sees why it ended. Returns the error, to be thrown.
 */
function logExit(error: RiffleError, options: ServeOptions): RiffleError {
  // An error that is not Riffle's own (a bug, uncaught) keeps its stack: it is all there is to go on.
  const cause = error.cause;
  const stack = error.code === "INTERNAL" && cause instanceof Error ? { stack: cause.stack } : {};
  (options.log ?? createLogger(options.name.toLowerCase())).fatal(
    { code: error.code, err: describeError(error), ...stack },
    `${options.name} exits: ${error.message}`,
  );
  return error;
}

/** Closes the server, but never waits longer than `timeoutMs`: the process must end after a fatal error. */
async function closeWithin(server: Closeable, timeoutMs: number, log: ServeLog | undefined): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const outcome = await Promise.race([server.close().then(() => "closed" as const), deadline]);
    if (outcome === "timeout") log?.warn({ timeoutMs }, "the close did not finish in time; exiting anyway");
  } catch (err) {
    log?.warn({ err: describeError(err) }, "the close failed; exiting anyway");
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Uncaught exceptions and unhandled rejections of the server, as a promise: the process then closes
 * what it can and exits 1 with the reason logged, rather than dying without a word or lingering.
 */
function fatalErrors(): { promise: Promise<RiffleError>; dispose(): void } {
  let report!: (error: RiffleError) => void;
  const promise = new Promise<RiffleError>((resolve) => {
    report = resolve;
  });
  const onError = (err: unknown) => report(toRiffleError(err));
  process.on("uncaughtException", onError);
  process.on("unhandledRejection", onError);
  return {
    promise,
    dispose() {
      process.off("uncaughtException", onError);
      process.off("unhandledRejection", onError);
    },
  };
}
