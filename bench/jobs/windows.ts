/**
 * The windows benchmark's job: datagen of events over 100k keys with event time advancing 100k
 * events per second (each key has one event per second of event time) → bounded out-of-orderness
 * watermarks → keyBy → 10 s event-time windows counting per key → discarding sink, at parallelism 1
 * on the memory backend, without checkpoints. `--window` picks the windows:
 *
 *   tumbling            TumblingEventTimeWindows.of(10 s): per-window operator, 1 state update per
 *                       event, a result per key every 10 s of event time (0.1 per event)
 *   sliding             SlidingEventTimeWindows.of(10 s, 1 s) with the default trigger: the SDK
 *                       slices it (1 update per event into 1 s slices, a fire merges 10 slices), a
 *                       result per key every 1 s of event time (1 per event)
 *   sliding-per-window  the same windows with .trigger(EventTimeTrigger.create()), which selects the
 *                       per-window operator: 10 windows (state updates) per event
 *
 * The stream is unbounded: the benchmark measures stretches of it and cancels the job. Progress is
 * read inside the window task, where the count is added: as it adds event i with i % `--mark-every`
 * = 0 (a multiple of KEYS: key 0's events), it appends "<i> <epoch ms>" to the `--marks` file. The
 * source is back-pressured by the window task, but buffers between them hold many events, so marks
 * taken at the source would shift by however many are in flight.
 *
 * Watermarks every 50 ms (Flink's default is 200): windows then fire at most 50 ms of processing
 * after the watermark passes their end, 0.5 s of event time (50k events) after the boundary, so a
 * stretch between two marks at event-time boundaries holds a whole number of fire rounds.
 *
 *   args: --window tumbling|sliding|sliding-per-window --marks <file> --mark-every <events, a multiple of KEYS>
 */
import { appendFileSync } from "node:fs";
import {
  type AggregateFunction,
  EventTimeTrigger,
  SlidingEventTimeWindows,
  type StreamExecutionEnvironment,
  TumblingEventTimeWindows,
  WatermarkStrategy,
} from "@riffle/sdk";

export const KEYS = 100_000;
/** Events per second of event time. */
export const EVENTS_PER_SECOND = 100_000;
export const WINDOW_SIZE_MS = 10_000;
export const WINDOW_SLIDE_MS = 1_000;
export const OUT_OF_ORDERNESS_MS = 500;
export const WINDOWS = ["tumbling", "sliding", "sliding-per-window"] as const;
export type WindowKind = (typeof WINDOWS)[number];

export interface Ev {
  key: number;
  time: number;
}

/** Event i: key i mod KEYS, in event-time order. */
export function event(i: number): Ev {
  return { key: i % KEYS, time: Math.floor((i * 1000) / EVENTS_PER_SECOND) };
}

/**
 * COUNT(*), with a merge so that sliding windows can count in slices, noting the marks as it adds
 * (the per-window operator adds an event once per window: the first add marks it).
 */
function countWithMarks(marks: string, markEvery: number): AggregateFunction<Ev, number, number> {
  let lastMarked = -1;
  return {
    createAccumulator: () => 0,
    add(e, n) {
      if (e.key === 0) {
        // Key 0's events are i = KEYS * m, stamped m * KEYS * 1000 / EVENTS_PER_SECOND ms.
        const i = Math.round((e.time * EVENTS_PER_SECOND) / 1000);
        if (i % markEvery === 0 && i !== lastMarked) {
          lastMarked = i;
          appendFileSync(marks, `${i} ${performance.timeOrigin + performance.now()}\n`);
        }
      }
      return n + 1;
    },
    getResult: (n) => n,
    merge: (a, b) => a + b,
  };
}

export default function windows(env: StreamExecutionEnvironment): void {
  const kind = env.param("window") as WindowKind;
  if (!WINDOWS.includes(kind)) throw new Error(`--window must be one of ${WINDOWS.join(", ")}, got ${kind}`);
  env.setParallelism(1);
  env.setStateBackend("memory");
  env.setJobName(`windows-${kind}`);
  const markEvery = Number(env.param("mark-every"));
  if (!Number.isInteger(markEvery) || markEvery <= 0 || markEvery % KEYS !== 0) throw new Error(`--mark-every must be a multiple of ${KEYS}`);
  env.setAutoWatermarkInterval(50);
  const byKey = env
    .datagen({ generator: event })
    .uid("events")
    .assignTimestampsAndWatermarks(WatermarkStrategy.forBoundedOutOfOrderness<Ev>(OUT_OF_ORDERNESS_MS).withTimestampAssigner((e) => e.time))
    .uid("timestamps")
    .keyBy((e) => e.key);
  const windowed =
    kind === "tumbling"
      ? byKey.window(TumblingEventTimeWindows.of(WINDOW_SIZE_MS))
      : kind === "sliding"
        ? byKey.window(SlidingEventTimeWindows.of(WINDOW_SIZE_MS, WINDOW_SLIDE_MS))
        : byKey.window(SlidingEventTimeWindows.of(WINDOW_SIZE_MS, WINDOW_SLIDE_MS)).trigger(EventTimeTrigger.create());
  windowed
    .aggregate(countWithMarks(env.param("marks"), markEvery))
    .name(`count per key (${kind})`)
    .uid("count")
    .sinkTo({ createWriter: () => ({ write() {} }) })
    .name("discard");
}
