import { describe, expect, it } from "vitest";
import { runLocally } from "../taskmanager/src/testing/index.js";
import sessions, { type PageView, type Session, pageView } from "./sessions.js";

/** Sessions by brute force: a user's views sorted by time, split where the silence reaches the gap. */
function expectedSessions(views: PageView[]): Session[] {
  const byUser = new Map<string, number[]>();
  for (const v of views) byUser.set(v.user, [...(byUser.get(v.user) ?? []), v.time]);
  const out: Session[] = [];
  for (const [user, times] of byUser) {
    times.sort((a, b) => a - b);
    let start = times[0]!;
    let last = start;
    let n = 0;
    for (const t of times) {
      if (t - last >= 30_000) {
        out.push({ user, start, end: last + 30_000, views: n });
        start = t;
        n = 0;
      }
      last = t;
      n++;
    }
    out.push({ user, start, end: last + 30_000, views: n });
  }
  return out;
}

const key = (s: Session) => `${s.user} ${s.start}`;

describe("examples/sessions.ts", () => {
  it("sessions per user and views per page per minute equal a brute-force computation over out-of-order views", async () => {
    const N = 3000;
    const r = await runLocally<unknown>((env) => sessions(env), { args: ["--views", String(N)] });
    const views = Array.from({ length: N }, (_, i) => pageView(i));
    const got = r.records.filter((x): x is Session => typeof x === "object" && x !== null && "start" in x);
    expect(got.sort((a, b) => key(a).localeCompare(key(b)))).toEqual(expectedSessions(views).sort((a, b) => key(a).localeCompare(key(b))));

    const perPage = new Map<string, number>();
    for (const v of views) {
      const k = `${v.page} ${new Date(Math.floor(v.time / 60_000) * 60_000).toISOString()}`;
      perPage.set(k, (perPage.get(k) ?? 0) + 1);
    }
    const gotPages = r.records.filter((x): x is { page: string; minute: string; views: number } => typeof x === "object" && x !== null && "minute" in x);
    expect(new Map(gotPages.map((p) => [`${p.page} ${p.minute}`, p.views]))).toEqual(perPage);
    expect(r.records.filter((x) => typeof x === "object" && x !== null && "late" in x)).toEqual([]);
  });
});
