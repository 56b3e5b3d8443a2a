import {
  type Collector,
  CollectionSource,
  type DataStream,
  type ProcessWindowContext,
  type StreamExecutionEnvironment,
  type TimeWindow,
  WatermarkStrategy,
} from "@riffle/sdk";

/** A keyed event with an event-time timestamp and a value. */
export interface Ev {
  k: string;
  t: number;
  v: number;
}

/** What window tests emit: the key, the window, and the result. */
export interface Out<V = number> {
  k: string;
  start: number;
  end: number;
  v: V;
}

export { prng } from "../testing/index.js";

/**
 * `n` events over `keys` keys whose timestamps advance by up to `step` and are then pulled back by
 * up to `disorder`: the stream is out of order by at most `disorder`.
 */
export function randomEvents(
  rand: () => number,
  n: number,
  options: { keys?: number; step?: number; disorder?: number; start?: number; grain?: number } = {},
): Ev[] {
  const { keys = 3, step = 300, disorder = 0, start = 0, grain = 1 } = options;
  const events: Ev[] = [];
  let base = start;
  for (let i = 0; i < n; i++) {
    base += Math.floor(rand() * step);
    const t = Math.floor((base - Math.floor(rand() * (disorder + 1))) / grain) * grain;
    events.push({ k: `k${Math.floor(rand() * keys)}`, t, v: Math.floor(rand() * 100) - 20 });
  }
  return events;
}

/** The events as a stream with timestamps `t` and bounded out-of-orderness watermarks (one per poll with pollBatch 1). */
export function eventStream(env: StreamExecutionEnvironment, events: readonly Ev[], outOfOrderness: number): DataStream<Ev> {
  return env.fromSource(
    new CollectionSource(events),
    WatermarkStrategy.forBoundedOutOfOrderness<Ev>(outOfOrderness).withTimestampAssigner((e) => e.t),
    "events",
  );
}

/** Run options that emit a watermark after every record. */
export const EVERY_RECORD = { pollBatch: 1, clockStepPerPoll: 200 } as const;

/** A process window function that labels a result with its key and window. */
export function labelled<V>() {
  return (key: string, ctx: ProcessWindowContext<TimeWindow>, results: V[], out: Collector<Out<V>>) => {
    for (const v of results) out.collect({ k: key, start: ctx.window.start, end: ctx.window.end, v });
  };
}

/** Sorted copies, for comparing results whose order across keys is not specified. */
export function sorted<T>(xs: readonly T[]): T[] {
  return [...xs].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0));
}

/** The start of the window of `size` (shifted by `offset`) holding `t`, as Flink computes it. */
export function windowStart(t: number, offset: number, size: number): number {
  return t - ((((t - offset) % size) + size) % size);
}

/** Brute force: every (key, window) of a sliding assigner (tumbling when slide = size) with the sum of its values. */
export function bruteForceSums(events: readonly Ev[], size: number, slide: number, offset = 0): Out[] {
  const sums = new Map<string, Out>();
  for (const e of events) {
    for (let start = windowStart(e.t, offset, slide); start > e.t - size; start -= slide) {
      const id = `${e.k}|${start}`;
      const o = sums.get(id) ?? { k: e.k, start, end: start + size, v: 0 };
      o.v += e.v;
      sums.set(id, o);
    }
  }
  return [...sums.values()];
}

/** Brute force: sessions (gap) per key with the sum of their values. */
export function bruteForceSessions(events: readonly Ev[], gap: number): Out[] {
  const byKey = new Map<string, Ev[]>();
  for (const e of events) byKey.set(e.k, [...(byKey.get(e.k) ?? []), e]);
  const out: Out[] = [];
  for (const [k, evs] of byKey) {
    evs.sort((a, b) => a.t - b.t);
    let cur: Out | undefined;
    for (const e of evs) {
      if (cur && e.t <= cur.end) {
        cur.end = Math.max(cur.end, e.t + gap);
        cur.v += e.v;
      } else {
        if (cur) out.push(cur);
        cur = { k, start: e.t, end: e.t + gap, v: e.v };
      }
    }
    if (cur) out.push(cur);
  }
  return out;
}

export const sumValues = (a: Ev, b: Ev): Ev => ({ k: a.k, t: Math.max(a.t, b.t), v: a.v + b.v });
