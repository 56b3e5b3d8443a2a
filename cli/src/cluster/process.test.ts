import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { RiffleError } from "@riffle/shared";
import { ClusterProcess, parseLogRecord, type ClusterProcessOptions } from "./process.js";

const dir = mkdtempSync(join(tmpdir(), "riffle-process-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const started: ClusterProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.stop(2000)));
});

/** Collects what a stream receives. */
function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (c: Buffer) => {
    text += c.toString();
  });
  return { stream, text: () => text };
}

let counter = 0;
function start(script: string, extra: Partial<ClusterProcessOptions> = {}): ClusterProcess {
  counter += 1;
  const p = ClusterProcess.spawn({
    name: `proc-${counter}`,
    command: process.execPath,
    args: ["-e", script],
    mode: "pipe",
    logFile: join(dir, `proc-${counter}.log`),
    ...extra,
  });
  started.push(p);
  return p;
}

const log = (msg: string, fields: Record<string, unknown> = {}) => JSON.stringify({ level: 30, time: 1, msg, ...fields });
const soon = () => Date.now() + 10_000;

describe("parseLogRecord", () => {
  it("recognises pino lines only", () => {
    expect(parseLogRecord(log("hi"))?.msg).toBe("hi");
    expect(parseLogRecord('{"word":"a","count":1}')).toBeUndefined();
    expect(parseLogRecord("{not json")).toBeUndefined();
    expect(parseLogRecord("plain")).toBeUndefined();
  });
});

describe("ClusterProcess (pipe mode)", () => {
  it("routes log records to the log file and waiters, other lines to stdout", async () => {
    const out = sink();
    const p = start(
      `console.log('{"word":"a"}'); console.log("plain line"); console.log(${JSON.stringify(log("JobManager started", { restPort: 1234 }))}); setInterval(() => {}, 1000);`,
      { stdout: out.stream },
    );
    const record = await p.waitForLog("JobManager started", soon());
    expect(record.restPort).toBe(1234);
    const status = await p.stop(5000);
    expect(status.signal).toBe("SIGTERM");
    expect(out.text()).toBe('{"word":"a"}\nplain line\n');
    expect(readFileSync(p.logFile, "utf8")).toBe(`${log("JobManager started", { restPort: 1234 })}\n`);
  });

  it("fails a wait with the code of the process's error line when it exits first", async () => {
    const err = sink();
    const p = start(`console.error("error[PORT_IN_USE]: cannot listen on 127.0.0.1:8081"); process.exit(1);`, { stderr: err.stream });
    const failure = await p.waitForLog("JobManager started", soon()).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RiffleError);
    expect((failure as RiffleError).code).toBe("PORT_IN_USE");
    expect((failure as RiffleError).message).toBe(`${p.name} exited with code 1 before it reported "JobManager started": cannot listen on 127.0.0.1:8081`);
    // The error line is reported by the waiter, not echoed to our stderr.
    expect(err.text()).toBe("");
  });

  it("includes the last lines when the process exits without an error line", async () => {
    const p = start(`console.log(${JSON.stringify(log("booting"))}); console.error("TypeError: boom"); process.exit(3);`, { stderr: sink().stream });
    const failure = (await p.waitForLog("TaskManager registered", soon()).catch((e: unknown) => e)) as RiffleError;
    expect(failure.code).toBe("INTERNAL");
    expect(failure.message).toContain("exited with code 3");
    expect(failure.message).toContain("TypeError: boom");
    expect(failure.message).toContain('"msg":"booting"');
  });

  it("fails a wait at its deadline with TIMEOUT", async () => {
    const p = start("setInterval(() => {}, 1000);");
    const failure = (await p.waitForLog("never", Date.now() + 200).catch((e: unknown) => e)) as RiffleError;
    expect(failure.code).toBe("TIMEOUT");
    expect(failure.message).toContain(p.logFile);
  });

  it("kills a process that ignores SIGTERM after the stop timeout", async () => {
    const p = start(`process.on("SIGTERM", () => {}); console.log(${JSON.stringify(log("ready"))}); setInterval(() => {}, 1000);`);
    await p.waitForLog("ready", soon());
    const status = await p.stop(300);
    expect(status.signal).toBe("SIGKILL");
  });

  it("reports a command that cannot be started", async () => {
    const p = ClusterProcess.spawn({ name: "ghost", command: join(dir, "no-such-binary"), args: [], mode: "pipe", logFile: join(dir, "ghost.log") });
    const failure = (await p.waitForLog("x", soon()).catch((e: unknown) => e)) as RiffleError;
    expect(failure.message).toContain("ghost could not be started");
  });
});

describe("ClusterProcess (file mode)", () => {
  it("reads records back from the log file the process writes", async () => {
    const logFile = join(dir, "background.log");
    appendFileSync(logFile, `${log("TaskManager registered")}\n`); // from an earlier run: must be skipped
    const p = start(`setTimeout(() => console.log(${JSON.stringify(log("TaskManager registered", { run: 2 }))}), 50); setInterval(() => {}, 1000);`, {
      mode: "file",
      logFile,
    });
    const record = await p.waitForLog("TaskManager registered", soon());
    expect(record.run).toBe(2);
    await p.stop(5000);
  });

  it("finds the error line of a process that exits", async () => {
    const p = start(`console.error("error[JOBMANAGER_UNREACHABLE]: no JobManager at 127.0.0.1:1"); process.exit(1);`, {
      mode: "file",
      logFile: join(dir, "background-failing.log"),
    });
    const failure = (await p.waitForLog("TaskManager registered", soon()).catch((e: unknown) => e)) as RiffleError;
    expect(failure.code).toBe("JOBMANAGER_UNREACHABLE");
  });
});
