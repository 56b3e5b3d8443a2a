import { RiffleError } from "@riffle/shared";
import type { LeaderSession } from "./leader-election.js";

/** The error of a write or an action refused because the leadership it was made under has ended. */
export function leadershipLost(session: LeaderSession, detail = "this JobManager no longer leads"): RiffleError {
  return new RiffleError("LEADERSHIP_LOST", `${detail} (leadership ${session.token} has ended)`);
}

/** Throws LEADERSHIP_LOST unless `session` still holds; every fenced store checks this before it writes. */
export function requireLeadership(session: LeaderSession, what: string): void {
  if (!session.isActive()) throw leadershipLost(session, `refused to ${what}: this JobManager no longer leads`);
}
