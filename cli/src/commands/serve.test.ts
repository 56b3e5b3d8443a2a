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

  it("passes on a startup error", async () => {
    const { log } = capturedLog();
    await expect(
      serve(
        async () => {
          throw new RiffleError("PORT_IN_USE", "port 6121 is in use");
        },
        { name: "TaskManager", log },
      ),
    ).rejects.toMatchObject({ code: "PORT_IN_USE" });
  });
});
