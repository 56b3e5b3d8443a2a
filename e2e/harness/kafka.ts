import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RiffleProcess } from "./process.js";

export const KAFKA_BROKER_MAIN = fileURLToPath(new URL("../../testing/kafka-broker/dist/main.js", import.meta.url));

export interface KafkaBrokerOptions {
  /** The port to listen on; a free one when not given. */
  port?: number;
  /** Data directory; a fresh temporary one (removed by stop) when not given. */
  dataDir?: string;
  /** More command-line flags (see `node testing/kafka-broker/dist/main.js --help`). */
  args?: string[];
  /** More environment variables (e.g. `RIFFLE_DEBUG: "kafka-broker"` for its debug log). */
  env?: NodeJS.ProcessEnv;
  /** How long the broker may take to print READY. Default 20 s. */
  startTimeoutMs?: number;
}

/**
 * The Kafka test broker as a real process on a free port with its own data directory, started the
 * way users start it (`node testing/kafka-broker/dist/main.js`). It can be killed with SIGKILL and
 * restarted on the same port and data directory, so clients reconnect to the address they know.
 */
export class TestKafkaBroker {
  private constructor(
    public process: RiffleProcess,
    readonly port: number,
    readonly dataDir: string,
    private readonly ownsDataDir: boolean,
    private readonly options: KafkaBrokerOptions,
  ) {}

  static async start(options: KafkaBrokerOptions = {}): Promise<TestKafkaBroker> {
    const ownsDataDir = options.dataDir === undefined;
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "riffle-kafka-"));
    const { process, port } = await launch(dataDir, options.port ?? 0, options);
    return new TestKafkaBroker(process, port, dataDir, ownsDataDir, options);
  }

  /** `127.0.0.1:<port>`, for clients' bootstrap servers. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Kills the broker with SIGKILL (no shutdown, no flush) and waits until it is gone. */
  async kill9(): Promise<void> {
    this.process.kill("SIGKILL");
    await this.process.exited;
  }

  /** Starts the broker again on the same port and data directory (after kill9 or stop). */
  async restart(): Promise<void> {
    if (!this.process.hasExited) await this.process.stop();
    this.process = (await launch(this.dataDir, this.port, this.options)).process;
  }

  async stop(): Promise<void> {
    await this.process.stop();
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

async function launch(dataDir: string, port: number, options: KafkaBrokerOptions): Promise<{ process: RiffleProcess; port: number }> {
  const args = ["--port", String(port), "--data-dir", dataDir, ...(options.args ?? [])];
  const broker = new RiffleProcess(`kafka-broker:${port}`, args, options.env ?? {}, KAFKA_BROKER_MAIN);
  try {
    await broker.waitForOutput(1, options.startTimeoutMs ?? 20_000);
  } catch (err) {
    await broker.stop();
    throw err;
  }
  const ready = /^READY \S+:(\d+)$/.exec(broker.output[0] ?? "");
  if (!ready) {
    await broker.stop();
    throw new Error(`kafka broker printed "${broker.output[0]}" instead of its READY line\n${broker.tail()}`);
  }
  return { process: broker, port: Number(ready[1]) };
}

export interface KcatResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs Debian's `kcat` (librdkafka) against a broker, with a deadline; `input` goes to its stdin.
 * The independent client the test broker is checked with.
 */
export function kcat(args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<KcatResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("kcat", args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timeoutMs = options.timeoutMs ?? 20_000;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`kcat ${args.join(" ")} did not finish within ${timeoutMs} ms\nstdout: ${stdout.slice(-2000)}\nstderr: ${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`kcat could not be started (is Debian's kcat installed? .ci/run installs it): ${err.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}
