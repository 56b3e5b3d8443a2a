import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { freePort } from "@riffle/shared";
import { killOnExit } from "./children.js";

/**
 * Real etcd members for tests (Debian's `etcd-server`, /usr/bin/etcd): 1 or 3 members on free
 * loopback ports with temporary data directories, each member stoppable, killable, pausable and
 * restartable on its data. Every wait has a deadline.
 *
 * ```ts
 * const etcd = await EtcdCluster.start({ members: 3 });
 * await (await etcd.leader()).kill();     // the raft leader dies; the others elect a new one
 * await etcd.close();
 * ```
 */

export const ETCD_BINARY = process.env.RIFFLE_ETCD_BINARY ?? "/usr/bin/etcd";

/** etcd logs this (zap, 3.4) once the member serves clients: in a cluster only after it joined a quorum. */
const READY = "serving client traffic insecurely";

export interface EtcdClusterOptions {
  members?: 1 | 3;
  /**
   * etcd's --heartbeat-interval and --election-timeout (ms). etcd's smallest lease TTL is
   * ceil(1.5 × election timeout): the default 100/1000 gives 2 s, 50/500 gives 1 s (for tests that
   * want a 1 s lease on one member).
   */
  heartbeatMs?: number;
  electionMs?: number;
  /** Deadline of a member's start (to READY). */
  startTimeoutMs?: number;
}

export class EtcdMember {
  readonly logs: string[] = [];
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private waiters: Array<{ match: (line: string) => boolean; resolve: () => void }> = [];

  constructor(
    readonly name: string,
    readonly clientPort: number,
    readonly peerPort: number,
    readonly dataDir: string,
    private readonly args: string[],
  ) {}

  get clientUrl(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  get peerUrl(): string {
    return `http://127.0.0.1:${this.peerPort}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the member on its data directory; resolves once it serves clients. */
  async start(timeoutMs = 20_000): Promise<void> {
    if (this.child) throw new Error(`etcd member ${this.name} is running`);
    if (!existsSync(ETCD_BINARY)) {
      throw new Error(
        `no etcd at ${ETCD_BINARY}: install Debian's etcd-server (apt-get install -y etcd-server etcd-client, as .ci/run does), or point RIFFLE_ETCD_BINARY at one`,
      );
    }
    const child = spawn(ETCD_BINARY, this.args, { stdio: ["ignore", "ignore", "pipe"] });
    this.child = child;
    killOnExit(child);
    const ready = this.waitForLog((line) => line.includes(READY), timeoutMs);
    ready.catch(() => {});
    createInterface({ input: child.stderr! }).on("line", (line) => {
      this.logs.push(line);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(line)) return true;
        w.resolve();
        return false;
      });
    });
    this.exited = new Promise((resolve) => {
      child.on("exit", () => {
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    const exitedFirst = this.exited.then(() => {
      throw new Error(`etcd member ${this.name} exited while starting:\n${this.tail()}`);
    });
    await Promise.race([ready, exitedFirst]);
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves once it exited. */
  async stop(timeoutMs = 10_000): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL; resolves once it exited. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill("SIGCONT"); // a paused process dies of SIGKILL too, but is reaped only once it runs
    child.kill("SIGKILL");
    await this.exited;
  }

  /** SIGSTOP: the member keeps its sockets but answers nothing. */
  pause(): void {
    this.child?.kill("SIGSTOP");
  }

  resume(): void {
    this.child?.kill("SIGCONT");
  }

  /** Resolves on the first log line (from now on) matching; rejects after `timeoutMs`. */
  waitForLog(match: (line: string) => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`etcd member ${this.name}: no matching log line within ${timeoutMs} ms\n${this.tail()}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The member's view of the cluster (etcd's JSON gateway), or undefined when it does not answer within `timeoutMs`. */
  async status(timeoutMs = 1_000): Promise<{ memberId: string; leaderId: string; raftTerm: string } | undefined> {
    if (!this.child) return undefined;
    try {
      const res = await fetch(`${this.clientUrl}/v3/maintenance/status`, { method: "POST", body: "{}", signal: AbortSignal.timeout(timeoutMs) });
      const body = (await res.json()) as { header: { member_id: string }; leader: string; raftTerm: string };
      return { memberId: body.header.member_id, leaderId: body.leader, raftTerm: body.raftTerm };
    } catch {
      return undefined;
    }
  }

  tail(n = 20): string {
    return this.logs.slice(-n).join("\n");
  }
}

export class EtcdCluster {
  private constructor(
    readonly members: EtcdMember[],
    readonly dir: string,
  ) {}

  /** Starts the members together and resolves once each serves clients; ports taken meanwhile are retried. */
  static async start(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const cluster = await EtcdCluster.create(options);
      try {
        await Promise.all(cluster.members.map((m) => m.start(options.startTimeoutMs)));
        return cluster;
      } catch (err) {
        lastError = err;
        await cluster.close();
        // Another process took one of the free ports between the probe and etcd's bind: new ports.
        if (!/address already in use/.test(String(err))) break;
      }
    }
    throw lastError;
  }

  private static async create(options: EtcdClusterOptions): Promise<EtcdCluster> {
    const count = options.members ?? 1;
    const dir = mkdtempSync(join(tmpdir(), "riffle-etcd-"));
    const token = `riffle-test-${randomBytes(6).toString("hex")}`;
    const ports: Array<{ client: number; peer: number }> = [];
    for (let i = 0; i < count; i++) ports.push({ client: await freePort(), peer: await freePort() });
    const initialCluster = ports.map((p, i) => `m${i}=http://127.0.0.1:${p.peer}`).join(",");
    const members = ports.map((p, i) => {
      const dataDir = join(dir, `m${i}`);
      const client = `http://127.0.0.1:${p.client}`;
      const peer = `http://127.0.0.1:${p.peer}`;
      return new EtcdMember(`m${i}`, p.client, p.peer, dataDir, [
        `--name=m${i}`,
        `--data-dir=${dataDir}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=${initialCluster}`,
        "--initial-cluster-state=new",
        `--initial-cluster-token=${token}`,
        `--heartbeat-interval=${options.heartbeatMs ?? 100}`,
        `--election-timeout=${options.electionMs ?? 1000}`,
        "--logger=zap",
        "--log-outputs=stderr",
      ]);
    });
    return new EtcdCluster(members, dir);
  }

  /** Client URLs of every member, running or not. */
  get endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  /** The endpoints as `high-availability.etcd.endpoints` takes them. */
  get endpointList(): string {
    return this.endpoints.join(",");
  }

  /** The member the running members agree leads raft; rejects when none is agreed on within `timeoutMs`. */
  async leader(timeoutMs = 10_000): Promise<EtcdMember> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const statuses = await Promise.all(this.members.map(async (m) => ({ member: m, status: await m.status() })));
      const answering = statuses.filter((s) => s.status !== undefined);
      const leaderId = answering[0]?.status?.leaderId;
      if (leaderId && leaderId !== "0" && answering.every((s) => s.status?.leaderId === leaderId)) {
        const leader = answering.find((s) => s.status?.memberId === leaderId);
        if (leader) return leader.member;
      }
      if (Date.now() > deadline) throw new Error(`no agreed etcd leader within ${timeoutMs} ms: ${JSON.stringify(answering.map((s) => s.status))}`);
      // A raft election is under way: ask again shortly (status answers are the only signal).
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Kills every member and removes the data directories. */
  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => m.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
