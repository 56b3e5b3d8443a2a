import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { RiffleError, fencingToken, type Clock, type FencingToken } from "@riffle/shared";
import { leadershipLost } from "../fencing.js";
import type { LeaderElectionDriver, LeaderElectionDriverListener, LeaderInformation, LeaderSession } from "../leader-election.js";

class StandaloneSession implements LeaderSession {
  active = true;
  constructor(
    readonly token: FencingToken,
    readonly grantedAt: number,
  ) {}

  isActive(): boolean {
    return this.active;
  }
}

/**
 * Leadership without a coordination service (`high-availability.type: none`): the one JobManager
 * leads from the start until it closes. Its fencing token's epoch counts the JobManager's starts on
 * its storage directory, so a restarted JobManager's token is newer than the last one's.
 */
export class StandaloneLeaderElectionDriver implements LeaderElectionDriver {
  private session: StandaloneSession | undefined;
  private listener: LeaderElectionDriverListener | undefined;
  private published: LeaderInformation | undefined;
  private closed = false;

  constructor(
    private readonly epoch: bigint,
    private readonly leaderId: string,
    private readonly clock: Clock,
  ) {}

  start(listener: LeaderElectionDriverListener): void {
    if (this.closed) return;
    this.listener = listener;
    this.session = new StandaloneSession(fencingToken(this.epoch, randomBytes(8).toString("hex")), this.clock.now());
    listener.onGrantLeadership(this.session);
  }

  hasLeadership(session: LeaderSession): boolean {
    return session === this.session && this.session.active;
  }

  async publishLeaderInformation(session: LeaderSession, info: LeaderInformation): Promise<void> {
    if (!this.hasLeadership(session)) throw leadershipLost(session);
    this.published = info;
  }

  /** What the leader published (nobody follows it through here: followers are configured with its address). */
  get leaderInformation(): LeaderInformation | undefined {
    return this.published;
  }

  async candidates(): Promise<string[]> {
    return this.closed ? [] : [this.leaderId];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const session = this.session;
    if (session?.active) {
      session.active = false;
      this.listener?.onRevokeLeadership(session, "RESIGNED");
    }
  }
}

/**
 * The next leader epoch of a JobManager on `dir`: one more than the last (kept in
 * `<dir>/leader-epoch`, replaced atomically). HA_STORAGE_FAILED when the directory is not writable.
 */
export async function nextLeaderEpoch(dir: string): Promise<bigint> {
  const file = join(dir, "leader-epoch");
  try {
    await mkdir(dir, { recursive: true });
    let last = 0n;
    try {
      const text = (await readFile(file, "utf8")).trim();
      if (/^\d+$/.test(text)) last = BigInt(text);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    const next = last + 1n;
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, `${next}\n`);
    await rename(tmp, file);
    return next;
  } catch (err) {
    throw new RiffleError(
      "HA_STORAGE_FAILED",
      `cannot record the leader epoch in ${file}: ${(err as Error).message}; check that jobmanager.storage.dir is writable`,
      {
        cause: err,
      },
    );
  }
}
