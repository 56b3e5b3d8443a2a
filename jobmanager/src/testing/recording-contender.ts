import type { RiffleError } from "@riffle/shared";
import type { LeaderContender, LeaderSession, LeadershipLostReason } from "../ha/index.js";

export type ContenderEvent =
  | { type: "granted"; session: LeaderSession; at: number }
  | { type: "revoked"; session: LeaderSession; reason: LeadershipLostReason; detail: string | undefined; at: number; activeDuringCall: boolean }
  | { type: "error"; error: RiffleError; at: number };

/** A leader contender for tests: records what the election tells it, with waits that have deadlines. */
export class RecordingContender implements LeaderContender {
  readonly events: ContenderEvent[] = [];
  private waiters: Array<{ match: (e: ContenderEvent) => boolean; resolve: (e: ContenderEvent) => void }> = [];

  constructor(readonly name: string) {}

  grantLeadership(session: LeaderSession): void {
    this.record({ type: "granted", session, at: Date.now() });
  }

  revokeLeadership(session: LeaderSession, reason: LeadershipLostReason, detail?: string): void {
    this.record({ type: "revoked", session, reason, detail, at: Date.now(), activeDuringCall: session.isActive() });
  }

  handleError(error: RiffleError): void {
    this.record({ type: "error", error, at: Date.now() });
  }

  get grants(): Array<Extract<ContenderEvent, { type: "granted" }>> {
    return this.events.filter((e) => e.type === "granted");
  }

  get revocations(): Array<Extract<ContenderEvent, { type: "revoked" }>> {
    return this.events.filter((e) => e.type === "revoked");
  }

  /** The n-th grant (1-based), past or future. */
  async granted(n: number, timeoutMs: number): Promise<LeaderSession> {
    const e = await this.waitFor((e) => e.type === "granted" && this.grants.indexOf(e) === n - 1, timeoutMs, `grant #${n}`);
    return (e as Extract<ContenderEvent, { type: "granted" }>).session;
  }

  /** The n-th revocation (1-based), past or future. */
  async revoked(n: number, timeoutMs: number): Promise<Extract<ContenderEvent, { type: "revoked" }>> {
    return (await this.waitFor((e) => e.type === "revoked" && this.revocations.indexOf(e) === n - 1, timeoutMs, `revocation #${n}`)) as Extract<
      ContenderEvent,
      { type: "revoked" }
    >;
  }

  waitFor(match: (e: ContenderEvent) => boolean, timeoutMs: number, what: string): Promise<ContenderEvent> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (e: ContenderEvent) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms; events: ${this.events.map((e) => e.type).join(", ") || "none"}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  private record(e: ContenderEvent): void {
    this.events.push(e);
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(e)) return true;
      w.resolve(e);
      return false;
    });
  }
}
