import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const CLI = fileURLToPath(new URL("../../cli/dist/main.js", import.meta.url));

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

type Waiter = { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void };

/**
 * Every process the tests started that has not exited. A test that times out skips its `finally`
 * clean-up; its processes must not burn the CPU the next test files need, so they die with the worker.
 */
const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/**
 * A Riffle process started through the `riffle` CLI (or another Node entry script, such as the Kafka
 * test broker's). Its stdout is split into pino JSON log lines and other lines (what print sinks
 * write); tests wait for log events with deadlines.
 */
export class RiffleProcess {
  readonly logs: LogLine[] = [];
  readonly output: string[] = [];
  readonly stderr: string[] = [];
  private waiters: Waiter[] = [];
  private outputWaiters: Array<{ count: number; resolve: () => void }> = [];
  private stderrWaiters: Array<{ match: (line: string) => boolean; resolve: (line: string) => void }> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly child: ChildProcess;

  /**
   * `wrapper`: a command that runs the rest of its arguments in a child (`unshare --pid --fork`, a
   * shell); `pid`, `kill` and `exited` are then the wrapper's.
   */
  constructor(
    readonly name: string,
    args: string[],
    env: NodeJS.ProcessEnv = {},
    entry: string = CLI,
    wrapper: string[] = [],
  ) {
    const [file, ...rest] = [...wrapper, process.execPath, entry, ...args];
    this.child = spawn(file!, rest, {
      cwd: REPO_ROOT,
      env: { ...process.env, RIFFLE_LOG_LEVEL: process.env.RIFFLE_LOG_LEVEL ?? "info", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    createInterface({ input: this.child.stdout! }).on("line", (line) => this.onStdout(line));
    createInterface({ input: this.child.stderr! }).on("line", (line) => this.onStderr(line));
    live.add(this.child);
    this.child.on("exit", (code, signal) => {
      this.exitInfo = { code, signal };
      live.delete(this.child);
    });
    // "close", not "exit": only then has every line the process wrote been read.
    this.exited = new Promise((resolve) => {
      this.child.on("close", (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
        for (const w of this.waiters) w.resolve({ level: 60, msg: `process exited (${code ?? signal})` });
        this.waiters = [];
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  private onStdout(line: string): void {
    if (line.startsWith("{")) {
      try {
        const parsed = JSON.parse(line) as LogLine;
        if (typeof parsed.level === "number") {
          this.logs.push(parsed);
          this.waiters = this.waiters.filter((w) => {
            if (!w.match(parsed)) return true;
            w.resolve(parsed);
            return false;
          });
          return;
        }
      } catch {
        // not a log line: user output
      }
    }
    this.output.push(line);
    this.outputWaiters = this.outputWaiters.filter((w) => {
      if (this.output.length < w.count) return true;
      w.resolve();
      return false;
    });
  }

  private onStderr(line: string): void {
    this.stderr.push(line);
    this.stderrWaiters = this.stderrWaiters.filter((w) => {
      if (!w.match(line)) return true;
      w.resolve(line);
      return false;
    });
  }

  /** Resolves with the first log line (past or future) matching; rejects after `timeoutMs` or on exit. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> {
    const seen = this.logs.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.name}: no matching log line within ${timeoutMs} ms\n${this.tail()}`));
      }, timeoutMs);
      const waiter: Waiter = {
        match,
        resolve: (line) => {
          clearTimeout(timer);
          if (this.exitInfo && !match(line)) reject(new Error(`${this.name} exited before the awaited log line\n${this.tail()}`));
          else resolve(line);
        },
      };
      if (this.exitInfo) {
        clearTimeout(timer);
        reject(new Error(`${this.name} already exited\n${this.tail()}`));
        return;
      }
      this.waiters.push(waiter);
    });
  }

  /** Resolves once `count` output (non-log) lines have been printed; rejects after `timeoutMs` or when the process exits first. */
  waitForOutput(count: number, timeoutMs = 20_000): Promise<void> {
    if (this.output.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name}: ${this.output.length} of ${count} output lines after ${timeoutMs} ms\n${this.tail()}`)),
        timeoutMs,
      );
      void this.exited.then(() => {
        if (this.output.length >= count) return;
        clearTimeout(timer);
        reject(new Error(`${this.name} exited after ${this.output.length} of ${count} output lines\n${this.tail()}`));
      });
      this.outputWaiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /**
   * Resolves with the first stderr line (past or future) matching, e.g. what the CLI tells its user;
   * rejects after `timeoutMs`, or when the process exits first.
   */
  waitForStderr(match: (line: string) => boolean, timeoutMs = 20_000): Promise<string> {
    const seen = this.stderr.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      const timer = setTimeout(() => {
        this.stderrWaiters = this.stderrWaiters.filter((w) => w !== waiter);
        reject(new Error(`${this.name}: no matching stderr line within ${timeoutMs} ms\n${this.tail()}`));
      }, timeoutMs);
      this.stderrWaiters.push(waiter);
      // Lines can still arrive after the exit event: give up only once stderr was read to the end.
      void this.exited.then(() => {
        if (!this.stderrWaiters.includes(waiter)) return;
        this.stderrWaiters = this.stderrWaiters.filter((w) => w !== waiter);
        clearTimeout(timer);
        reject(new Error(`${this.name} exited before the awaited stderr line\n${this.tail()}`));
      });
    });
  }

  /**
   * Resolves with the exit code and signal once the process exited and all its output was read (so
   * `output` and `stderr` are complete); rejects, leaving the process running, after `timeoutMs`.
   */
  async waitForExit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.name} did not exit within ${timeoutMs} ms\n${this.tail()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  tail(n = 15): string {
    const logs = this.logs.slice(-n).map((l) => JSON.stringify(l));
    return [...logs, ...this.stderr.slice(-n)].join("\n");
  }

  kill(signal: NodeJS.Signals = "SIGTERM"): void {
    if (!this.hasExited) this.child.kill(signal);
  }

  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.hasExited) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}
