import { describe, expect, it } from "vitest";
import {
  CollectionSource,
  type DataStream,
  OutputTag,
  type PollResult,
  type ReaderOutput,
  type Source,
  type SourceReader,
  type StreamExecutionEnvironment,
  TumblingEventTimeWindows,
  type WatermarkGenerator,
  WatermarkStrategy,
} from "@riffle/sdk";
import { type LocalRunResult, runLocally } from "../testing/index.js";
import type { Ev } from "./fixtures.js";

/**
 * Custom watermark generators (WatermarkStrategy.forGenerator) and idleness on
 * assignTimestampsAndWatermarks. Record i is polled in round i (pollBatch 1); the runner's `rounds`
 * tell when each window result and each late record came out.
 */

const late = new OutputTag<Ev>("late");

/** Counts per key and tumbling 1 s window, with the records too late for their window on the side. */
function countsWithLate(events: DataStream<Ev>): DataStream<string> {
  const counts = events
    .keyBy((e) => e.k)
    .window(TumblingEventTimeWindows.of(1_000))
    .sideOutputLateData(late)
    .sum("v");
  return counts.map((e) => `${e.k} count ${e.v}`).union(counts.getSideOutput(late).map((e) => `late ${e.k}@${e.t}`));
}

const ev = (k: string, t: number): Ev => ({ k, t, v: 1 });

/** Each output with the round it came out in and its timestamp (a window result's is the window's last millisecond). */
const described = (r: LocalRunResult<string>) => r.records.map((x, i) => `${r.rounds[i]}: ${x} @${r.timestamps[i]}`);

describe("custom watermark generators on a source", () => {
  it("a punctuated generator advances the watermark at its marker records, with no periodic emit", async () => {
    // Records of key "p" are markers: "everything up to my timestamp has arrived".
    const punctuated = WatermarkStrategy.forGenerator<Ev>(
      (): WatermarkGenerator<Ev> => ({
        onEvent: (e, ts, out) => {
          if (e.k === "p") out.emitWatermark(ts);
        },
        onPeriodicEmit: () => {},
      }),
    ).withTimestampAssigner((e) => e.t);
    const events = [
      ev("a", 100), // round 0
      ev("a", 2_500), // 1
      ev("a", 1_200), // 2: out of order, but no marker has passed it: on time
      ev("p", 3_000), // 3: watermark 3000 closes [0,1000), [1000,2000) and [2000,3000)
      ev("a", 1_500), // 4: its window closed at round 3: late
      ev("a", 3_000), // 5: watermark 3000 is not past [3000,4000): on time
      ev("a", 3_999), // 6: on time; no marker follows, so [3000,4000) waits for the end of input
      ev("a", 4_100), // 7
    ];
    // The clock never moves, so no periodic emit ever runs: watermarks come from onEvent alone.
    const r = await runLocally((env) => countsWithLate(env.fromSource(new CollectionSource(events), punctuated, "events")), {
      pollBatch: 1,
      clockStepPerPoll: 0,
    });
    expect(described(r)).toEqual([
      "3: a count 1 @999",
      "3: a count 1 @1999",
      "3: a count 1 @2999",
      "4: late a@1500 @1500",
      // The end of input (round 7) fires the rest.
      "7: p count 1 @3999",
      "7: a count 2 @3999",
      "7: a count 1 @4999",
    ]);
  });

  it("a periodic generator advances the watermark only at its periodic emits", async () => {
    // The watermark trails the processing-time clock by 2 s (Flink's TimeLagWatermarkGenerator):
    // records may arrive up to 2 s after their event time, whatever timestamps came before.
    const timeLag = WatermarkStrategy.forGenerator<Ev>(
      (ctx): WatermarkGenerator<Ev> => ({
        onEvent: () => {},
        onPeriodicEmit: (out) => out.emitWatermark(ctx.currentProcessingTime() - 2_000),
      }),
    ).withTimestampAssigner((e) => e.t);
    // Round r polls at clock 500 r and then moves the clock to 500 (r + 1); periodic emits run every
    // 1000 ms (at the end of rounds 1, 3, 5, 7, 9), giving watermarks -1000, 0, 1000, 2000, 3000.
    const events = [
      ev("a", 100), // round 0
      ev("a", 900), // 1
      ev("a", 1_100), // 2
      ev("a", 400), // 3
      ev("a", 50), // 4: watermark 0 has not passed [0,1000): on time
      ev("a", 1_900), // 5: then watermark 1000 closes [0,1000)
      ev("a", 700), // 6: late
      ev("a", 1_000), // 7: on time; then watermark 2000 closes [1000,2000)
      ev("a", 1_999), // 8: late
      ev("a", 2_500), // 9: then watermark 3000 closes [2000,3000)
      ev("a", 3_100), // 10: [3000,4000) waits for the end of input
    ];
    const r = await runLocally(
      (env: StreamExecutionEnvironment) => {
        env.setAutoWatermarkInterval(1_000);
        return countsWithLate(env.fromSource(new CollectionSource(events), timeLag, "events"));
      },
      { pollBatch: 1, clockStepPerPoll: 500 },
    );
    expect(described(r)).toEqual([
      "5: a count 4 @999",
      "6: late a@700 @700",
      "7: a count 3 @1999",
      "8: late a@1999 @1999",
      "9: a count 1 @2999",
      "10: a count 1 @3999",
    ]);
  });
});

const ROUNDS = 40;

/**
 * Emits record `at(i)` at poll i (nothing when it gives undefined) and ends after ROUNDS polls, so a
 * source can go quiet without ending (an ending source would release the watermark to its end).
 */
class Scripted implements Source<Ev> {
  readonly boundedness = "bounded";
  readonly maxParallelism = 1;

  constructor(private readonly at: (i: number) => Ev | undefined) {}

  createReader(): SourceReader<Ev> {
    let i = 0;
    return {
      pollNext: (output: ReaderOutput<Ev>): PollResult => {
        const e = this.at(i);
        if (e !== undefined) output.collect(e);
        i++;
        return i < ROUNDS ? "MORE_AVAILABLE" : "END_OF_INPUT";
      },
      isAvailable: () => Promise.resolve(),
    };
  }
}

/**
 * `runLocally` runs every operator at parallelism 1, so the two parallel instances of the timestamp
 * assigner are two sources, each with its own assignTimestampsAndWatermarks, unioned: the window
 * then has two input channels, each carrying one generator's watermarks and idle status, as two
 * subtasks of one assigner would give a window subtask.
 */
function twoInputs(strategy: WatermarkStrategy<Ev>) {
  return runLocally(
    (env) => {
      const input = (name: string, at: (i: number) => Ev | undefined) =>
        env.fromSource(new Scripted(at), WatermarkStrategy.noWatermarks<Ev>(), name).assignTimestampsAndWatermarks(strategy);
      // "busy": a record a second of event time at every poll. "quiet": one record at the start, then
      // nothing until poll 30, then one more.
      const busy = input("busy", (i) => ev("busy", i * 1_000));
      const quiet = input("quiet", (i) => (i === 0 ? ev("quiet", 0) : i === 30 ? ev("quiet", 30_000) : undefined));
      return busy
        .union(quiet)
        .keyBy((e) => e.k)
        .window(TumblingEventTimeWindows.of(5_000))
        .sum("v")
        .map((e) => `${e.k} count ${e.v}`);
    },
    // 200 ms of processing time per poll, and a periodic emit after each.
    { pollBatch: 1, clockStepPerPoll: 200, autoWatermarkIntervalMs: 200 },
  );
}

describe("assignTimestampsAndWatermarks with idleness, one input quiet", () => {
  const strategy = WatermarkStrategy.forBoundedOutOfOrderness<Ev>(0).withTimestampAssigner((e) => e.t);

  it("with idleness, the quiet input stops holding the watermark back after the timeout, and rejoins when it has records again", async () => {
    const run = await twoInputs(strategy.withIdleness(1_000));
    const out = described(run);
    // Window [0, 5000) of "busy" closes with its record at 5000 (round 5), the quiet input having
    // gone idle 1000 ms after its record; "quiet"'s own window of it fires with it.
    expect(out.slice(0, 2).sort()).toEqual(["5: busy count 5 @4999", "5: quiet count 1 @4999"]);
    // Every window of "busy" but the last fires while the input runs, five polls after the previous.
    const busyRounds = out.filter((x) => x.includes("busy")).map((x) => Number(x.split(":")[0]));
    expect(busyRounds).toEqual([5, 10, 15, 20, 25, 30, 35, ROUNDS - 1]);
    // The quiet input's second record (event time 30000, round 30) is on time and counted.
    expect(out).toContain("35: quiet count 1 @34999");
  });

  it("without idleness, the quiet input holds every window back until it has records again", async () => {
    const run = await twoInputs(strategy);
    const out = described(run);
    // Nothing fires for 30 rounds; the quiet input's record at 30000 (round 30) moves its watermark
    // to 29999, releasing every window before it at once; the rest wait for the end of input.
    expect(run.rounds.filter((round) => round < 30)).toEqual([]);
    expect(out.filter((x) => x.startsWith("30: ")).sort()).toEqual([
      "30: busy count 5 @14999",
      "30: busy count 5 @19999",
      "30: busy count 5 @24999",
      "30: busy count 5 @29999",
      "30: busy count 5 @4999",
      "30: busy count 5 @9999",
      "30: quiet count 1 @4999",
    ]);
    expect(out.filter((x) => !x.startsWith("30: ")).sort()).toEqual([
      `${ROUNDS - 1}: busy count 5 @34999`,
      `${ROUNDS - 1}: busy count 5 @39999`,
      `${ROUNDS - 1}: quiet count 1 @34999`,
    ]);
  });
});
