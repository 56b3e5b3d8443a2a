import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, statSync, type WriteStream } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";
import { RiffleError, isErrorCode, spawnIntoLogFile, type ErrorCode } from "@riffle/shared";
import { ERROR_LINE } from "../errors.js";

/**
 * One JobManager or TaskManager process started by the CLI, and the lines it writes.
 *
 * ```
 *            stdout ──┬─ pino JSON record ──▶ log file, waiters (waitForLog)
 *   child ──          └─ any other line ────▶ our stdout   (print sink output)
 *            stderr ─────────────────────────▶ log file and our stderr
 * ```
 *
 * That is the "pipe" mode of the embedded cluster, whose processes end with the CLI. In "file" mode
 * (`riffle cluster start`) the processes outlive the CLI, so they write straight to their log file and
 * the CLI reads it back while it waits for them to start.
 */

export type OutputMode = "pipe" | "file";

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A structured log line (pino JSON). */
export type LogRecord = Record<string, unknown> & { level: unknown };

export interface ClusterProcessOptions {
  /** Name used in messages and for the log file, e.g. `taskmanager-1`. */
  name: string;
  /** Executable, e.g. process.execPath. */
  command: string;
  args: readonly string[];
  mode: OutputMode;
  /** Log file; appended to. */
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Pipe mode: where lines that are not log records go (default process.stdout / process.stderr). */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

/** How many recent lines are kept for error messages. */
const RECENT_LINES = 40;
/** File mode: how often the log file is read while someone waits for a line. */
const TAIL_INTERVAL_MS = 100;

interface Waiter {
  msg: string;
  resolve: (record: LogRecord) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Parses a pino log line; anything else (print sink output, stack traces) is undefined. */
export function parseLogRecord(line: string): LogRecord | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    if (value !== null && typeof value === "object" && !Array.isArray(value) && "level" in value) return value as LogRecord;
  } catch {
    return undefined;
  }
  return undefined;
}

export class ClusterProcess {
  readonly name: string;
  readonly logFile: string;
  /** Resolves when the process has exited and its output has been read. */
  readonly exited: Promise<ExitStatus>;
  private readonly child: ChildProcess;
  private readonly mode: OutputMode;
  private readonly recent: string[] = [];
  private readonly waiters = new Set<Waiter>();
  private status: ExitStatus | undefined;
  private finishing = false;
  /** Set while stopping: output is read and dropped, so a process blocked on a full pipe can exit. */
  private discarding = false;
  private spawnError: Error | undefined;
  private reported: { code: string; message: string } | undefined;
  private log: WriteStream | undefined;
  private tail:
    | { handle: Promise<FileHandle>; offset: number; decoder: StringDecoder; partial: string; timer?: NodeJS.Timeout; reading?: Promise<void> }
    | undefined;

  private constructor(options: ClusterProcessOptions) {
    this.name = options.name;
    this.logFile = options.logFile;
    this.mode = options.mode;
    const spawnOptions = { cwd: options.cwd, env: options.env ?? process.env, windowsHide: true };

    if (options.mode === "pipe") {
      this.log = createWriteStream(options.logFile, { flags: "a" });
      this.log.on("error", () => {
        this.log = undefined;
      });
      // Own process group: the terminal's Ctrl-C reaches only the CLI, which stops the cluster in order.
      // The IPC channel is a lifeline: a child whose CLI died (even by SIGKILL) shuts itself down.
      this.child = spawn(options.command, options.args, { ...spawnOptions, detached: true, stdio: ["ignore", "pipe", "pipe", "ipc"] });
      const out = options.stdout ?? process.stdout;
      const err = options.stderr ?? process.stderr;
      if (this.child.stdout) this.readLines(this.child.stdout, out, (line) => this.onLine(line, "stdout", out));
      if (this.child.stderr) this.readLines(this.child.stderr, err, (line) => this.onLine(line, "stderr", err));
    } else {
      const offset = sizeOf(options.logFile);
      this.child = spawnIntoLogFile(options.command, options.args, options.logFile, { cwd: options.cwd, env: options.env });
      this.tail = { handle: open(options.logFile, "r"), offset, decoder: new StringDecoder("utf8"), partial: "" };
      this.tail.handle.catch(() => undefined);
    }

    this.exited = new Promise<ExitStatus>((resolve) => {
      // 'error': not started, or a signal could not be sent; only the first matters.
      this.child.on("error", (err) => {
        this.spawnError ??= err;
        if (this.child.pid === undefined) this.finish({ code: null, signal: null }, resolve);
      });
      this.child.once("close", (code, signal) => this.finish({ code, signal }, resolve));
    });
  }

  /** Starts the process. */
  static spawn(options: ClusterProcessOptions): ClusterProcess {
    return new ClusterProcess(options);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The exit status once the process has exited. */
  get exitStatus(): ExitStatus | undefined {
    return this.status;
  }

  /** The last lines the process wrote (log records and other output), oldest first. */
  recentLines(count = 15): string[] {
    return this.recent.slice(-count);
  }

  /**
   * Waits for the first log record with this `msg` written from now on. Rejects when the process
   * exits first (with its error code when it printed `error[CODE]: ...`) or at the deadline (epoch ms).
   * Register every wait right after spawning, before awaiting anything, so no line is missed.
   */
  waitForLog(msg: string, deadline: number): Promise<LogRecord> {
    if (this.status) return Promise.reject(this.exitError(`before it reported "${msg}"`));
    const startedWaiting = Date.now();
    return new Promise<LogRecord>((resolve, reject) => {
      const waiter: Waiter = {
        msg,
        resolve,
        reject,
        timer: setTimeout(
          () => {
            this.waiters.delete(waiter);
            this.updateTail();
            reject(
              new RiffleError(
                "TIMEOUT",
                `${this.name} did not report "${msg}" within ${Math.round(Math.max(0, deadline - startedWaiting) / 1000)} s.${this.logHint()}`,
              ),
            );
          },
          Math.max(0, deadline - Date.now()),
        ),
      };
      this.waiters.add(waiter);
      this.updateTail();
    });
  }

  /**
   * Stops the process: SIGTERM, then SIGKILL if it has not exited within `timeoutMs`. Resolves with
   * its exit status.
   */
  async stop(timeoutMs: number): Promise<ExitStatus> {
    if (this.status) return this.status;
    this.discardOutput();
    this.signal("SIGTERM");
    const status = await within(this.exited, timeoutMs);
    if (status) return status;
    this.signal("SIGKILL");
    const killed = await within(this.exited, 5_000);
    if (killed) return killed;
    throw new RiffleError("TIMEOUT", `${this.name} (pid ${this.pid}) did not exit after SIGKILL`);
  }

  /** Drops the process's non-log output from now on (stopping, or nobody reads our stdout any more). */
  discardOutput(): void {
    this.discarding = true;
    this.child.stdout?.resume();
    this.child.stderr?.resume();
  }

  /** Sends a signal unless the process has exited. */
  signal(signal: NodeJS.Signals): void {
    if (this.status || this.child.pid === undefined) return;
    try {
      this.child.kill(signal);
    } catch {
      // It exited between the check and the signal.
    }
  }

  /** Lets this (the CLI's) process exit while the child runs on: file mode only. */
  release(): void {
    this.child.unref();
    this.closeTail();
  }

  /**
   * Error for a process that has exited: "<name> exited with code 1 <context>: <its error line>", or
   * with its last lines when it printed no `error[CODE]: ...` line (then the code is `fallback`).
   */
  exitError(context: string, fallback: ErrorCode = "INTERNAL"): RiffleError {
    const status = this.status;
    const how =
      this.spawnError && this.child.pid === undefined
        ? `could not be started (${this.spawnError.message})`
        : status?.signal
          ? `was killed by ${status.signal}`
          : `exited with code ${status?.code ?? "unknown"}`;
    if (this.reported) {
      const code = isErrorCode(this.reported.code) ? this.reported.code : "INTERNAL";
      return new RiffleError(code, `${this.name} ${how} ${context}: ${this.reported.message}`);
    }
    const lines = this.recentLines(10);
    const tail = lines.length > 0 ? `\nLast lines of ${this.logFile}:\n${lines.map((l) => `  ${truncate(l, 400)}`).join("\n")}` : this.logHint();
    return new RiffleError(fallback, `${this.name} ${how} ${context}.${tail}`);
  }

  private logHint(): string {
    return ` See ${this.logFile}.`;
  }

  private finish(status: ExitStatus, resolve: (s: ExitStatus) => void): void {
    if (this.finishing) return;
    this.finishing = true;
    const done = () => {
      this.status = status;
      this.closeTail();
      for (const w of this.waiters) {
        clearTimeout(w.timer);
        w.reject(this.exitError(`before it reported "${w.msg}"`));
      }
      this.waiters.clear();
      // The log file holds every line once `exited` resolves.
      if (this.log) this.log.end(() => resolve(status));
      else resolve(status);
    };
    // File mode: read what the process wrote last (its error line) before reporting the exit.
    const tail = this.tail;
    if (tail)
      void Promise.resolve(tail.reading)
        .then(() => this.readTail())
        .finally(done);
    else done();
  }

  private readLines(stream: NodeJS.ReadableStream, destination: NodeJS.WritableStream, onLine: (line: string) => boolean): void {
    const decoder = new StringDecoder("utf8");
    let partial = "";
    const dispatch = (text: string) => {
      const parts = (partial + text).split("\n");
      partial = parts.pop() ?? "";
      let room = true;
      for (const part of parts) room = onLine(part.endsWith("\r") ? part.slice(0, -1) : part) && room;
      return room;
    };
    stream.on("data", (chunk: Buffer) => {
      if (!dispatch(decoder.write(chunk)) && !this.discarding) {
        // Our stdout is slower than the job's output: stop reading until it drains (back-pressure).
        stream.pause();
        void whenDrained(destination).then(() => stream.resume());
      }
    });
    stream.on("end", () => {
      const rest = partial + decoder.end();
      partial = "";
      if (rest.length > 0) onLine(rest);
    });
  }

  /** Handles one line; returns false when the destination asked to wait for a drain. */
  private onLine(line: string, from: "stdout" | "stderr", destination?: NodeJS.WritableStream): boolean {
    const record = parseLogRecord(line);
    if (record || from === "stderr" || this.mode === "file") {
      this.remember(line);
      this.log?.write(`${line}\n`);
    }
    if (from === "stderr" || this.mode === "file") {
      const m = ERROR_LINE.exec(line);
      if (m) this.reported = { code: m[1] ?? "INTERNAL", message: m[2] ?? "" };
    }
    if (record) {
      this.dispatch(record);
      return true;
    }
    if (this.mode === "pipe" && destination && !this.discarding) {
      // The process's own fatal error line is reported by whoever waits for it, with context.
      if (from === "stderr" && ERROR_LINE.test(line)) return true;
      return destination.write(`${line}\n`);
    }
    return true;
  }

  private remember(line: string): void {
    this.recent.push(line);
    if (this.recent.length > RECENT_LINES) this.recent.shift();
  }

  private dispatch(record: LogRecord): void {
    for (const w of this.waiters) {
      if (record.msg !== w.msg) continue;
      clearTimeout(w.timer);
      this.waiters.delete(w);
      w.resolve(record);
    }
    this.updateTail();
  }

  /** File mode: reads the log file while someone waits for a line, and only then. */
  private updateTail(): void {
    const tail = this.tail;
    if (!tail || this.status) return;
    if (this.waiters.size > 0 && !tail.timer) {
      tail.timer = setInterval(() => void this.readTail(), TAIL_INTERVAL_MS);
      void this.readTail();
    } else if (this.waiters.size === 0 && tail.timer) {
      this.stopTail();
    }
  }

  /** File mode: stops reading the log file for good. */
  private closeTail(): void {
    const tail = this.tail;
    if (!tail) return;
    this.stopTail();
    this.tail = undefined;
    void tail.handle.then((h) => h.close()).catch(() => undefined);
  }

  private stopTail(): void {
    if (this.tail?.timer) {
      clearInterval(this.tail.timer);
      this.tail.timer = undefined;
    }
  }

  private readTail(): Promise<void> {
    const tail = this.tail;
    if (!tail) return Promise.resolve();
    tail.reading ??= (async () => {
      try {
        const handle = await tail.handle;
        const buffer = Buffer.alloc(64 * 1024);
        for (;;) {
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, tail.offset);
          if (bytesRead === 0) break;
          tail.offset += bytesRead;
          const parts = (tail.partial + tail.decoder.write(buffer.subarray(0, bytesRead))).split("\n");
          tail.partial = parts.pop() ?? "";
          for (const part of parts) this.onLine(part.endsWith("\r") ? part.slice(0, -1) : part, "stdout");
        }
      } catch {
        // The log file went away: nothing more to read.
      } finally {
        tail.reading = undefined;
      }
    })();
    return tail.reading;
  }
}

const drains = new WeakMap<NodeJS.WritableStream, Promise<void>>();

/** One shared wait per stream for its next 'drain', however many readers wait for it. */
function whenDrained(stream: NodeJS.WritableStream): Promise<void> {
  let drained = drains.get(stream);
  if (!drained) {
    drained = new Promise<void>((resolve) => {
      stream.once("drain", () => {
        drains.delete(stream);
        resolve();
      });
    });
    drains.set(stream, drained);
  }
  return drained;
}

/** Resolves with the promise's value, or undefined when it did not settle within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function truncate(line: string, max: number): string {
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
