import { describe, expect, it } from "vitest";
import { type PollResult, type ReaderOutput, type Source, type SourceReader, TumblingEventTimeWindows, WatermarkStrategy } from "@riffle/sdk";
import { runLocally } from "../testing/index.js";
import type { Ev } from "./fixtures.js";

const ROUNDS = 40;

/**
 * One reader, two splits: split "busy" emits an element a second (of event time) at every poll;
 * split "quiet" emits one element at the start and then nothing, without ending.
 */
class TwoSplits implements Source<Ev> {
  readonly boundedness = "bounded";
  readonly maxParallelism = 1;

  createReader(): SourceReader<Ev> {
    let i = 0;
    return {
      pollNext(output: ReaderOutput<Ev>): PollResult {
        if (i === 0) output.createOutputForSplit("quiet").collect({ k: "quiet", t: 0, v: 1 });
        output.createOutputForSplit("busy").collect({ k: "busy", t: i * 1_000, v: 1 });
        i++;
        return i < ROUNDS ? "MORE_AVAILABLE" : "END_OF_INPUT";
      },
      isAvailable: () => Promise.resolve(),
    };
  }
}

function run(strategy: WatermarkStrategy<Ev>) {
  return runLocally(
    (env) =>
      env
        .fromSource(new TwoSplits(), strategy, "two splits")
        .keyBy((e) => e.k)
        .window(TumblingEventTimeWindows.of(5_000))
        .sum("v"),
    // A periodic watermark after every poll; 200 ms of processing time per poll.
    { pollBatch: 1, clockStepPerPoll: 200 },
  );
}

describe("idle source splits", () => {
  const strategy = WatermarkStrategy.forBoundedOutOfOrderness<Ev>(0).withTimestampAssigner((e) => e.t);

  it("with idleness, a quiet split stops holding the watermark back: windows fire while the input runs", async () => {
    const r = await run(strategy.withIdleness(1_000));
    const busy = r.records.map((e, i) => ({ e, round: r.rounds[i]! })).filter(({ e }) => e.k === "busy");
    expect(busy.map(({ e }) => e.v)).toEqual([5, 5, 5, 5, 5, 5, 5, 5]);
    // Window [0, 5000) closes with the element at 5000 (round 5): it fires then, not at the end.
    expect(busy[0]!.round).toBe(5);
    expect(busy.filter(({ round }) => round < ROUNDS - 1).length).toBe(7);
  });

  it("without idleness, the quiet split holds every window back until the end of input", async () => {
    const r = await run(strategy);
    expect(r.records.filter((e) => e.k === "busy").map((e) => e.v)).toEqual([5, 5, 5, 5, 5, 5, 5, 5]);
    expect(new Set(r.rounds)).toEqual(new Set([ROUNDS - 1]));
  });
});
