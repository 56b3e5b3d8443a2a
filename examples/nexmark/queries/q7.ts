/**
 * q7, highest bid (Nexmark's q7.sql): per tumbling 10 s window its MAX(price), joined back with the
 * bids on `B.price = maxprice AND B.dateTime BETWEEN window_end - 10 s AND window_end`:
 *
 *   bids ─► windowAll(TumblingEventTimeWindows(10 s)): MAX(price) and its bids ─┬─────────► rows
 *                                                 side output: (windowEnd, max) │
 *                                                                               ▼ keyBy(windowEnd)
 *   bids stamped exactly at a window end (dateTime % 10 s = 0) ─keyBy(dateTime)─► Q7EdgeBids ─► rows
 *
 * BETWEEN includes window_end, which belongs to the next window: a bid stamped exactly there, at the
 * ending window's max price, comes out for that window too (reference.ts's default, `inclusiveEnd`).
 * The window itself gives the plain per-window max; Q7EdgeBids adds those edge bids, joining them
 * with the max of the window they end (the bids of one millisecond in 10,000).
 */
import type {
  AggregateFunction,
  Collector,
  DataStream,
  KeyedCoProcessFunction,
  KeyedProcessContext,
  KeyedStateStore,
  ListState,
  ProcessWindowContext,
  RuntimeContext,
  TimeWindow,
  ValueState,
} from "@riffle/sdk";
import { ListStateDescriptor, OutputTag, TumblingEventTimeWindows, ValueStateDescriptor } from "@riffle/sdk";
import type { Event } from "../model.js";
import { type BidRow, bidRow, Q7_WINDOW_SIZE_MS, type Q7Row } from "../reference.js";
import { bidsOf } from "./streams.js";

/** The bids at the highest price so far. */
export interface MaxBids {
  price: number;
  bids: BidRow[];
}

/** MAX(price), keeping the bids that have it. */
export const MAX_BIDS: AggregateFunction<BidRow, MaxBids, MaxBids> = {
  createAccumulator: () => ({ price: Number.NEGATIVE_INFINITY, bids: [] }),
  add(b, acc) {
    if (b.price > acc.price) return { price: b.price, bids: [b] };
    if (b.price === acc.price) acc.bids.push(b);
    return acc;
  },
  getResult: (acc) => acc,
  merge(a, b) {
    if (a.price !== b.price) return a.price > b.price ? a : b;
    return { price: a.price, bids: [...a.bids, ...b.bids] };
  },
};

/** A window's max price, by the window's end. */
export interface WindowMax {
  windowEnd: number;
  price: number;
}

/**
 * Per window end: the bids stamped exactly there, at the ending window's max price. The window's max
 * comes when the watermark reaches its max timestamp (end - 1); bids at `end` may come before or after
 * it, and are all in when the watermark reaches `end`, where a timer clears the key.
 */
export class Q7EdgeBids implements KeyedCoProcessFunction<number, WindowMax, BidRow, Q7Row> {
  private max!: ValueState<number>;
  /** Edge bids that came before the window's max. */
  private pending!: ListState<BidRow>;

  open(ctx: RuntimeContext & KeyedStateStore): void {
    this.max = ctx.getState(new ValueStateDescriptor<number>("window-max"));
    this.pending = ctx.getListState(new ListStateDescriptor<BidRow>("edge-bids"));
  }

  processElement1(m: WindowMax, ctx: KeyedProcessContext<number>, out: Collector<Q7Row>): void {
    this.max.update(m.price);
    for (const b of this.pending.get()) if (b.price === m.price) out.collect(b);
    this.pending.clear();
    ctx.timerService().registerEventTimeTimer(m.windowEnd);
  }

  processElement2(b: BidRow, ctx: KeyedProcessContext<number>, out: Collector<Q7Row>): void {
    const max = this.max.value();
    if (max !== undefined) {
      if (b.price === max) out.collect(b);
      return;
    }
    this.pending.add(b);
    ctx.timerService().registerEventTimeTimer(b.dateTime);
  }

  onTimer(): void {
    this.max.clear();
    this.pending.clear();
  }
}

export function q7(events: DataStream<Event>): DataStream<Q7Row> {
  const windowMax = new OutputTag<WindowMax>("q7-window-max");
  const bids = bidsOf(events).map(bidRow).name("q7: Bid columns");
  const maxBids = bids
    .windowAll(TumblingEventTimeWindows.of(Q7_WINDOW_SIZE_MS))
    .aggregate(MAX_BIDS, (ctx: ProcessWindowContext<TimeWindow>, [max]: MaxBids[], out: Collector<Q7Row>) => {
      for (const b of max!.bids) out.collect(b);
      ctx.output(windowMax, { windowEnd: ctx.window.end, price: max!.price });
    })
    .name("q7: Max bids per window")
    .uid("q7-max-bids");
  const edgeBids = bids.filter((b: BidRow) => b.dateTime % Q7_WINDOW_SIZE_MS === 0).name("q7: Bids at a window end");
  const endingWindowMax = maxBids
    .getSideOutput(windowMax)
    .connect(edgeBids)
    .keyBy(
      (m: WindowMax) => m.windowEnd,
      (b: BidRow) => b.dateTime,
    )
    .process(new Q7EdgeBids())
    .name("q7: Bids at the end of a window")
    .uid("q7-edge-bids");
  return maxBids.union(endingWindowMax);
}
