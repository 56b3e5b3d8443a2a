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

/**
 * A source vertex run by a script: `steps[round]` runs at that poll (watermarks and idleness emitted
 * by the reader itself), then nothing is available until round `endRound`, where it ends.
 */
function scripted(steps: Record<number, (out: ReaderOutput<Ev>) => void>, endRound: number): Source<Ev> {
  return {
    boundedness: "bounded",
    createReader() {
      let round = 0;
      return {
        pollNext(out: ReaderOutput<Ev>): PollResult {
          steps[round]?.(out);
          return round++ < endRound ? "NOTHING_AVAILABLE" : "END_OF_INPUT";
        },
        isAvailable: () => Promise.resolve(),
      };
    },
  };
}

describe("idle inputs of a two-input vertex, as a task's StatusWatermarkValve sees them", () => {
  function run(a: Source<Ev>, b: Source<Ev>) {
    return runLocally(
      (env) =>
        env
          .fromSource(a, "a")
          .union(env.fromSource(b, "b"))
          .keyBy((e) => e.k)
          .window(TumblingEventTimeWindows.of(1_000))
          .sum("v"),
      { pollBatch: 1 },
    );
  }

  it("when every input goes idle, the watermark flushes to the highest of them: windows fire at once", async () => {
    // a is ahead (2000), b behind (100); both then go idle. Nothing holds event time back any more,
    // so the valve advances to 2000 and window [0, 1000) fires in round 1, long before the end.
    const r = await run(
      scripted(
        {
          0: (out) => out.collect({ k: "x", t: 500, v: 1 }, 500),
          1: (out) => {
            out.emitWatermark(2_000);
            out.markIdle();
          },
        },
        20,
      ),
      scripted(
        {
          1: (out) => {
            out.emitWatermark(100);
            out.markIdle();
          },
        },
        20,
      ),
    );
    expect(r.records).toEqual([{ k: "x", t: 500, v: 1 }]);
    expect(r.rounds).toEqual([1]);
  });

  it("a watermark of an idle input is ignored until it announces itself active", async () => {
    // b goes idle, then (without announcing active) sends a watermark behind a's: a task ignores it,
    // so a alone moves event time and window [0, 1000) fires when a passes 999 (round 2), instead of
    // b's stray 200 holding it back until the end of input.
    const r = await run(
      scripted(
        {
          0: (out) => {
            out.collect({ k: "x", t: 500, v: 1 }, 500);
            out.emitWatermark(400);
          },
          2: (out) => out.emitWatermark(1_500),
        },
        20,
      ),
      scripted(
        {
          0: (out) => {
            out.emitWatermark(0);
            out.markIdle();
          },
          1: (out) => out.emitWatermark(200),
        },
        20,
      ),
    );
    expect(r.records).toEqual([{ k: "x", t: 500, v: 1 }]);
    expect(r.rounds).toEqual([2]);
  });
});
