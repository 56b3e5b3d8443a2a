import { shutdownRequested } from "../interrupts.js";

/** A server process's lifecycle: created by `create`, closed on request. */
export interface Closeable {
  close(): Promise<void>;
}

/**
 * Runs a long-lived server (`riffle jobmanager`, `riffle taskmanager`): creates it, waits for SIGINT,
 * SIGTERM, SIGHUP or the loss of the parent that embedded it, then closes it gracefully. A stop
 * requested during startup takes effect as soon as startup completes. A second signal exits at once.
 * Startup errors propagate (the CLI prints them as `error[CODE]: ...` and exits 1).
 */
export async function serve(create: () => Promise<Closeable>): Promise<number> {
  const shutdown = shutdownRequested();
  try {
    const server = await create();
    await shutdown.promise;
    await server.close();
    return 0;
  } finally {
    shutdown.dispose();
  }
}
