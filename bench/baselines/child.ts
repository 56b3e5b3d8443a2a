/**
 * Baselines run in child processes of their own, like Riffle's TaskManagers, so that neither side
 * shares a heap, a JIT or an event loop with the benchmark driver. A child reports on stdout with
 * lines `<TAG> <json>`; everything else it prints is kept for error messages.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export class BaselineProcess {
  private readonly child: ChildProcess;
  private readonly lines: string[] = [];
  private readonly waiters: Array<{ tag: string; resolve: (v: unknown) => void }> = [];
  private exited = false;
  private readonly exitPromise: Promise<void>;

  /** `nodeFlags`: Node or V8 flags for the child's command line. */
  constructor(script: string, args: string[], nodeFlags: readonly string[] = []) {
    this.child = spawn(process.execPath, [...nodeFlags, "--import", "tsx", script, ...args], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    createInterface({ input: this.child.stdout! }).on("line", (line) => this.onLine(line));
    createInterface({ input: this.child.stderr! }).on("line", (line) => this.lines.push(line));
    this.exitPromise = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => {
        this.exited = true;
        for (const w of this.waiters.splice(0))
          w.resolve(new Error(`baseline ${script} exited (${code ?? signal}) before reporting ${w.tag}\n${this.lines.slice(-20).join("\n")}`));
        resolve();
      });
    });
  }

  private onLine(line: string): void {
    const space = line.indexOf(" ");
    const tag = space > 0 ? line.slice(0, space) : line;
    const i = this.waiters.findIndex((w) => w.tag === tag);
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      w!.resolve(JSON.parse(line.slice(space + 1)));
    } else {
      this.lines.push(line);
    }
  }

  /** The JSON payload of the next `<tag> <json>` line; rejects when the child exits first or after `timeoutMs`. */
  async report<T>(tag: string, timeoutMs = 180_000): Promise<T> {
    if (this.exited) throw new Error(`baseline already exited\n${this.lines.slice(-20).join("\n")}`);
    let timer: NodeJS.Timeout | undefined;
    const value = await new Promise<unknown>((resolve) => {
      this.waiters.push({ tag, resolve });
      timer = setTimeout(() => resolve(new Error(`baseline reported no ${tag} within ${timeoutMs} ms\n${this.lines.slice(-20).join("\n")}`)), timeoutMs);
    });
    clearTimeout(timer);
    if (value instanceof Error) throw value;
    return value as T;
  }

  async stop(): Promise<void> {
    if (!this.exited) this.child.kill("SIGTERM");
    await this.exitPromise;
  }
}

/** Writes a `<tag> <json>` line for the parent. */
export function reportToParent(tag: string, value: unknown): void {
  process.stdout.write(`${tag} ${JSON.stringify(value)}\n`);
}

/** True when `moduleUrl` is the script this process was started with (the child side of a baseline). */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && fileURLToPath(moduleUrl) === process.argv[1];
}
