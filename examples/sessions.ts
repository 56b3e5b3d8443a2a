/**
 * Event time: page views that arrive up to 5 s out of order → per-user sessions (closed after 30 s
 * without a view) and views per page per 1-minute tumbling window; views later than the watermark
 * allows go to a side output instead of being lost. Bounded: the end of input fires every window.
 *
 *   riffle run -p 2 examples/sessions.ts --views 20000
 */
import { EventTimeSessionWindows, OutputTag, type StreamExecutionEnvironment, TumblingEventTimeWindows, WatermarkStrategy } from "@riffle/sdk";

const PAGES = ["/", "/pricing", "/docs", "/blog", "/signup"] as const;

export interface PageView {
  user: string;
  page: string;
  /** Event time, epoch ms. */
  time: number;
}

export interface Session {
  user: string;
  start: number;
  end: number;
  views: number;
}

/** View i: 20 users, about 10 views per second of event time, shuffled by up to 5 s, with a pause now and then. */
export function pageView(i: number): PageView {
  const h = Math.imul(i + 1, 2654435761) >>> 0;
  const user = `user-${h % 20}`;
  const pause = Math.floor(i / 500) * 60_000; // every 500 views, a minute of silence ends all sessions
  return { user, page: PAGES[(h >>> 8) % PAGES.length]!, time: 1_700_000_000_000 + i * 100 + pause - ((h >>> 16) % 5000) };
}

export const lateViews = new OutputTag<PageView>("late-views");

export default function sessions(env: StreamExecutionEnvironment): void {
  const views = env
    .datagen<PageView>({ count: Number(env.param("views", "20000")), generator: pageView })
    .name("page views")
    .assignTimestampsAndWatermarks(WatermarkStrategy.forBoundedOutOfOrderness<PageView>(5_000).withTimestampAssigner((v) => v.time));

  views
    .keyBy((v) => v.user)
    .window(EventTimeSessionWindows.withGap(30_000))
    .aggregate(
      { createAccumulator: () => 0, add: (_v: PageView, n: number) => n + 1, getResult: (n: number) => n, merge: (a: number, b: number) => a + b },
      (user: string, ctx, counts: number[], out) => out.collect({ user, start: ctx.window.start, end: ctx.window.end, views: counts[0]! } satisfies Session),
    )
    .name("sessions per user")
    .uid("sessions")
    .collect();

  const perPage = views
    .keyBy((v) => v.page)
    .window(TumblingEventTimeWindows.of(60_000))
    .sideOutputLateData(lateViews)
    .aggregate(
      { createAccumulator: () => 0, add: (_v: PageView, n: number) => n + 1, getResult: (n: number) => n, merge: (a: number, b: number) => a + b },
      (page: string, ctx, counts: number[], out) => out.collect({ page, minute: new Date(ctx.window.start).toISOString(), views: counts[0]! }),
    )
    .name("views per page per minute")
    .uid("views-per-page");
  perPage.collect();
  perPage
    .getSideOutput(lateViews)
    .map((v) => ({ late: v }))
    .collect();
}
