/**
 * An unbounded pipeline: generated page views → per-user click counts and dwell time, printed by the
 * TaskManagers as they change. Runs until cancelled (Ctrl-C, or `riffle cancel <job>`).
 *
 *   riffle run -p 2 examples/clicks-per-user.ts --rate 200
 */
import type { StreamExecutionEnvironment } from "@riffle/sdk";

const PAGES = ["/", "/pricing", "/docs", "/blog", "/signup"] as const;

export interface PageView {
  user: string;
  page: string;
  dwellMs: number;
}

export interface UserActivity {
  user: string;
  clicks: number;
  dwellMs: number;
}

export default function clicksPerUser(env: StreamExecutionEnvironment): void {
  const rate = Number(env.param("rate", "200"));
  env
    .datagen<PageView>({
      ratePerSecond: rate,
      seed: 7,
      generator: (_i, random) => ({ user: `user-${random.int(20)}`, page: PAGES[random.int(PAGES.length)]!, dwellMs: random.int(30_000) }),
    })
    .name("page views")
    .map((v): UserActivity => ({ user: v.user, clicks: 1, dwellMs: v.dwellMs }))
    .keyBy((a) => a.user)
    .reduce((a, b) => ({ user: a.user, clicks: a.clicks + b.clicks, dwellMs: a.dwellMs + b.dwellMs }))
    .name("activity per user")
    .uid("activity")
    .print();
}
