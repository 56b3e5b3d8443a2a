import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { killOnExit } from "../../../e2e/harness/children.js";

const SCRIPT = fileURLToPath(new URL("./ha-candidate.ts", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export interface CandidateEvent {
  event: "campaigning" | "granted" | "revoked" | "error" | "result" | "closed";
  /** Date.now() in the candidate when it happened. */
  at: number;
  [field: string]: unknown;
}

/**
 * A leader candidate running ha-candidate.ts in a child process: its events as they come, commands
 * on its stdin, signals to kill or pause it. Every wait has a deadline.
 */
export class CandidateProcess {
  readonly events: CandidateEvent[] = [];
  readonly logs: string[] = [];
  readonly exited: Promise<void>;
  private readonly child: ChildProcess;
  private waiters: Array<{ match: (e: CandidateEvent) => boolean; resolve: (e: CandidateEvent) => void }> = [];

  /** `settings`: high-availability.* configuration keys (cluster id, endpoints, lease TTL, …). */
  constructor(
    readonly leaderId: string,
    settings: Record<string, string>,
  ) {
    this.child = spawn(process.execPath, ["--import", "tsx", SCRIPT, JSON.stringify({ ...settings, leaderId })], {
      cwd: REPO_ROOT,
      env: { ...process.env, RIFFLE_LOG_LEVEL: process.env.RIFFLE_LOG_LEVEL ?? "info" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    killOnExit(this.child);
    this.exited = new Promise((resolve) => this.child.on("exit", () => resolve()));
    createInterface({ input: this.child.stdout! }).on("line", (line) => this.onLine(line));
    createInterface({ input: this.child.stderr! }).on("line", (line) => this.logs.push(line));
  }

  get pid(): number {
    return this.child.pid!;
  }

  private onLine(line: string): void {
    let parsed: CandidateEvent | undefined;
    try {
      const value = JSON.parse(line) as Partial<CandidateEvent>;
      if (typeof value.event === "string") parsed = value as CandidateEvent;
    } catch {
      // not JSON
    }
    if (!parsed) {
      this.logs.push(line);
      return;
    }
    this.events.push(parsed);
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(parsed)) return true;
      w.resolve(parsed);
      return false;
    });
  }

  /** The first event (past or future) matching; rejects after `timeoutMs` or when the process exits first. */
  waitFor(match: (e: CandidateEvent) => boolean, timeoutMs: number, what = "event"): Promise<CandidateEvent> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (e: CandidateEvent) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`candidate ${this.leaderId}: no ${what} within ${timeoutMs} ms\n${this.tail()}`));
      }, timeoutMs);
      this.waiters.push(waiter);
      void this.exited.then(() => {
        if (!this.waiters.includes(waiter)) return;
        this.waiters = this.waiters.filter((w) => w !== waiter);
        clearTimeout(timer);
        reject(new Error(`candidate ${this.leaderId} exited before its ${what}\n${this.tail()}`));
      });
    });
  }

  /** Waits for the next event of `name` after the `after`-th event. */
  next(name: CandidateEvent["event"], timeoutMs: number, after = this.events.length): Promise<CandidateEvent> {
    return this.waitFor((e) => e.event === name && this.events.indexOf(e) >= after, timeoutMs, `"${name}" event`);
  }

  /** Sends a command; the process reads it when it runs (a paused one, once resumed). */
  send(command: Record<string, unknown>): void {
    this.child.stdin!.write(`${JSON.stringify(command)}\n`);
  }

  signal(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  /** SIGKILL (after SIGCONT, so a paused process dies too); resolves once it exited. */
  async kill(): Promise<void> {
    this.signal("SIGCONT");
    this.signal("SIGKILL");
    await this.exited;
  }

  tail(n = 20): string {
    return [...this.logs.slice(-n), ...this.events.slice(-n).map((e) => JSON.stringify(e))].join("\n");
  }
}
