import { RiffleError } from "@riffle/shared";
import { describe, expect, it } from "vitest";
import { serve, type Closeable, type ServeLog } from "./serve.js";

/** A server whose end the test decides, recording its close. */
class TestingServer implements Closeable {
  closes = 0;
  readonly terminated: Promise<void>;
  end!: { resolve(): void; reject(err: Error): void };

  constructor(private readonly closeTakes: Promise<void> = Promise.resolve()) {
    this.terminated = new Promise<void>((resolve, reject) => {
      this.end = { resolve, reject };
    });
  }

  async close(): Promise<void> {
    this.closes++;
    await this.closeTakes;
  }
}

/** A log that keeps its lines, in pino's shape (level 60 is fatal, 40 warn). */
function capturedLog(): { log: ServeLog & { info(msg: string): void }; lines: Array<{ level: number; msg: string; code?: string }> } {
  const lines: Array<{ level: number; msg: string; code?: string }> = [];
  const at =
    (level: number) =>
    (fields: object | string, msg?: string): void => {
      lines.push(typeof fields === "string" ? { level, msg: fields } : { level, msg: msg ?? "", ...fields });
    };
  return { log: { fatal: at(60), warn: at(40), info: at(30) } as unknown as ServeLog & { info(msg: string): void }, lines };
}

/** Runs `test` with the test process's other SIGTERM listeners (the test runner's) set aside: the test's signal goes to serve only. */
async function withSigtermToServeOnly(test: () => Promise<void>): Promise<void> {
  const others = process.listeners("SIGTERM");
  for (const l of others) process.off("SIGTERM", l);
  try {
    await test();
  } finally {
    for (const l of others) process.on("SIGTERM", l);
  }
}

describe("serve", () => {
  it("closes the server, logs the reason last and fails with its code when the server terminates with an error", async () => {
    const server = new TestingServer();
    const { log, lines } = capturedLog();
    const run = serve(async () => server, { name: "TaskManager", log });
    log.info("started");
    server.end.reject(new RiffleError("JOBMANAGER_UNREACHABLE", "could not register with the JobManager at 127.0.0.1:1 within 5000 ms"));
    await expect(run).rejects.toMatchObject({ code: "JOBMANAGER_UNREACHABLE" });
    expect(server.closes).toBe(1);
    expect(lines.at(-1)).toMatchObject({
      level: 60,
      code: "JOBMANAGER_UNREACHABLE",
      msg: "TaskManager exits: could not register with the JobManager at 127.0.0.1:1 within 5000 ms",
    });
  });

  it("exits even when the close after a fatal error hangs", async () => {
    const server = new TestingServer(new Promise(() => {}));
    const { log, lines } = capturedLog();
    const run = serve(async () => server, { name: "TaskManager", log, closeTimeoutMs: 50 });
    server.end.reject(new Error("boom"));
    await expect(run).rejects.toMatchObject({ code: "INTERNAL", message: "boom" });
    expect(lines.map((l) => l.msg)).toEqual(["the close did not finish in time; exiting anyway", "TaskManager exits: boom"]);
    // Not a Riffle error: a bug, whose stack is kept.
    expect((lines.at(-1) as { stack?: string }).stack).toMatch(/^Error: boom\n\s+at /);
  });

  it("ends with 0 when the server closed itself", async () => {
    const server = new TestingServer();
    const { log, lines } = capturedLog();
    const run = serve(async () => server, { name: "TaskManager", log });
    server.end.resolve();
    await expect(run).resolves.toBe(0);
    expect(lines).toEqual([]);
  });

  it("logs a startup error as its last line and passes it on", async () => {
    const { log, lines } = capturedLog();
    await expect(
      serve(
        async () => {
          throw new RiffleError("PORT_IN_USE", "port 6121 is in use");
        },
        { name: "TaskManager", log },
      ),
    ).rejects.toMatchObject({ code: "PORT_IN_USE" });
    expect(lines).toEqual([expect.objectContaining({ level: 60, code: "PORT_IN_USE", msg: "TaskManager exits: port 6121 is in use" })]);
  });

  it("aborts a startup when asked to stop, and ends with 0", async () => {
    const { log, lines } = capturedLog();
    await withSigtermToServeOnly(async () => {
      let starting!: () => void;
      const started = new Promise<void>((resolve) => {
        starting = resolve;
      });
      const run = serve(
        (signal) =>
          new Promise<Closeable>((_, reject) => {
            starting();
            signal.addEventListener("abort", () => reject(new RiffleError("CONNECTION_LOST", "registration stopped")));
          }),
        { name: "TaskManager", log },
      );
      await started;
      process.emit("SIGTERM", "SIGTERM");
      await expect(run).resolves.toBe(0);
      expect(lines).toEqual([]);
    });
  });

  it("closes a server whose startup completed after a stop was requested, and ends with 0", async () => {
    const server = new TestingServer();
    const { log } = capturedLog();
    await withSigtermToServeOnly(async () => {
      let finishStartup!: () => void;
      const run = serve(
        () =>
          new Promise<Closeable>((resolve) => {
            finishStartup = () => resolve(server);
          }),
        { name: "JobManager", log },
      );
      process.emit("SIGTERM", "SIGTERM");
      finishStartup();
      await expect(run).resolves.toBe(0);
      expect(server.closes).toBe(1);
    });
  });
});
