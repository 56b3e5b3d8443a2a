/**
 * q5, hot items (Nexmark's q5.sql): per sliding window (10 s, every 2 s), the auction(s) with the most
 * bids. The SQL counts bids per (auction, window) and joins the counts with their per-window maximum on
 * `num >= maxn`, so ties all come out. Here:
 *
 *   bids ─map(auction)─keyBy─► SlidingEventTimeWindows(10 s, 2 s): count ─► (auction, num, window)
 *        ─keyBy(windowEnd)─► Q5TopAuctions: the auctions at the highest count, out at the window's end
 *
 * The window counts incrementally (the count has a merge, so Riffle keeps one count per 2 s slice, as
 * Flink's sliced window aggregation does). Every count of a window carries the window's max timestamp
 * and reaches Q5TopAuctions before the watermark passes it, whichever subtask counted it: a timer
 * there knows that all counts of its window are in.
 */
import type {
  AggregateFunction,
  Collector,
  DataStream,
  KeyedProcessContext,
  KeyedProcessFunction,
  KeyedStateStore,
  ListState,
  ProcessWindowContext,
  RuntimeContext,
  TimeWindow,
  ValueState,
} from "@riffle/sdk";
import { ListStateDescriptor, SlidingEventTimeWindows, ValueStateDescriptor } from "@riffle/sdk";
import type { Bid, Event } from "../model.js";
import { Q5_WINDOW_SIZE_MS, Q5_WINDOW_SLIDE_MS, type Q5Row } from "../reference.js";
import { bidsOf } from "./streams.js";

/** COUNT(*), with a merge so that sliding windows can count in slices. */
export const COUNT: AggregateFunction<unknown, number, number> = {
  createAccumulator: () => 0,
  add: (_value, count) => count + 1,
  getResult: (count) => count,
  merge: (a, b) => a + b,
};

/** Per window (keyed by its end): the rows at the highest count so far, emitted when the watermark passes the window. */
export class Q5TopAuctions implements KeyedProcessFunction<number, Q5Row, Q5Row> {
  private max!: ValueState<number>;
  private top!: ListState<Q5Row>;

  open(ctx: RuntimeContext & KeyedStateStore): void {
    this.max = ctx.getState(new ValueStateDescriptor<number>("max-count"));
    this.top = ctx.getListState(new ListStateDescriptor<Q5Row>("top-auctions"));
  }

  processElement(row: Q5Row, ctx: KeyedProcessContext<number>): void {
    const max = this.max.value();
    if (max === undefined) ctx.timerService().registerEventTimeTimer(row.windowEnd - 1);
    if (max === undefined || row.num > max) {
      this.max.update(row.num);
      this.top.update([row]);
    } else if (row.num === max) this.top.add(row);
  }

  onTimer(_timestamp: number, _ctx: unknown, out: Collector<Q5Row>): void {
    for (const row of this.top.get()) out.collect(row);
    this.max.clear();
    this.top.clear();
  }
}

export function q5(events: DataStream<Event>): DataStream<Q5Row> {
  return (
    bidsOf(events)
      // Only the auction id crosses the network (the SQL planner projects the same way): a whole bid
      // with its padding costs ten times the bytes.
      .map((b: Bid) => b.auction)
      .name("q5: Project auction")
      .keyBy((auction: number) => auction)
      .window(SlidingEventTimeWindows.of(Q5_WINDOW_SIZE_MS, Q5_WINDOW_SLIDE_MS))
      .aggregate(COUNT, (auction: number, ctx: ProcessWindowContext<TimeWindow>, counts: number[], out: Collector<Q5Row>) =>
        out.collect({ auction, num: counts[0]!, windowStart: ctx.window.start, windowEnd: ctx.window.end }),
      )
      .name("q5: Bids per auction")
      .uid("q5-bids-per-auction")
      .keyBy((row: Q5Row) => row.windowEnd)
      .process(new Q5TopAuctions())
      .name("q5: Top auctions")
      .uid("q5-top-auctions")
  );
}
