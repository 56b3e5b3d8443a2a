import { RiffleError, isOlderFencingToken, type FencingToken, type Logger } from "@riffle/shared";
import { Counter, type Registry } from "prom-client";

/**
 * The TaskManager's side of fencing (issue 10): it keeps the newest fencing token it has seen, from
 * its registration answers, heartbeats and commands, and refuses a command that carries an older
 * one. A JobManager deposed while paused (SIGSTOP) or partitioned therefore cannot deploy, cancel,
 * checkpoint or commit once a newer leader has reached this TaskManager. A command without a token
 * is refused once any token was seen: every JobManager sends one.
 */
export class FencingGuard {
  private newestToken: FencingToken | undefined;
  private readonly rejections: Counter;
  private readonly newLeaderListeners: Array<(token: FencingToken, previous: FencingToken | undefined) => void> = [];

  constructor(
    private readonly log: Logger,
    registry: Registry,
  ) {
    this.rejections = new Counter({
      name: "riffle_taskmanager_fencing_rejections_total",
      help: "Commands refused because they carried the fencing token of an older JobManager leadership",
      labelNames: ["command"],
      registers: [registry],
    });
  }

  /** The newest token seen, or undefined before the first registration. */
  get newest(): FencingToken | undefined {
    return this.newestToken;
  }

  /**
   * Calls `listener` synchronously each time a newer token is seen (a new leadership reached this
   * TaskManager), before the command or answer that carried it goes on.
   */
  onNewLeader(listener: (token: FencingToken, previous: FencingToken | undefined) => void): void {
    this.newLeaderListeners.push(listener);
  }

  /**
   * Takes `token` into account (a registration answer or a heartbeat of the leader): true when it is
   * newer than every token seen so far, i.e. a new leadership.
   */
  observe(token: string): boolean {
    if (!token) return false;
    const t = token as FencingToken;
    if (this.newestToken !== undefined && !isOlderFencingToken(this.newestToken, t)) return false;
    const previous = this.newestToken;
    this.newestToken = t;
    for (const listener of this.newLeaderListeners) listener(t, previous);
    return true;
  }

  /**
   * Lets a command through when its token is the newest seen (or newer: then it becomes the newest);
   * throws FENCING_TOKEN_OUTDATED, logs and counts when it is older.
   */
  check(token: string, command: string, what: string): void {
    const newest = this.newestToken;
    if (newest === undefined || (token && !isOlderFencingToken(token as FencingToken, newest))) {
      this.observe(token);
      return;
    }
    this.rejections.inc({ command });
    const message = `refused ${command} of ${what}: it carries fencing token ${token || "(none)"}, older than ${newest} of the current JobManager leader (the sender was deposed)`;
    this.log.warn({ command, token: token || null, newest }, message);
    throw new RiffleError("FENCING_TOKEN_OUTDATED", message);
  }
}
