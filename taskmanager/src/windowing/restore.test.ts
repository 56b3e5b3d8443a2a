import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KeyedStateHandle, type OperatorStateHandle, keyGroupOf, keyGroupRangeForSubtask } from "@riffle/shared";
import {
  type Collector,
  ContinuousEventTimeTrigger,
  CountEvictor,
  EventTimeSessionWindows,
  EventTimeTrigger,
  OutputTag,
  type ProcessWindowContext,
  type SingleOutputStreamOperator,
  ProcessingTimeTrigger,
  SlidingEventTimeWindows,
  SlidingProcessingTimeWindows,
  type TimeWindow,
  TumblingEventTimeWindows,
  ValueStateDescriptor,
  type WindowAssigner,
} from "@riffle/sdk";
import { MAX_WATERMARK, type OperatorRuntime, SlicingWindowOperator, StreamExecutionEnvironment, type StreamOperator } from "@riffle/sdk/internal";
import { type KeyedStateBackend, MemoryKeyedStateBackend, OperatorStateBackend, createKeyedStateBackend, keyedHandlesFor } from "../state/index.js";
import { ManualProcessingTime, testRuntimeContext } from "../testing/index.js";
import { type Ev, eventStream, prng, randomEvents, sorted } from "./fixtures.js";

const MAX_P = 128;

let root: string;
let seq = 0;
const backends: KeyedStateBackend[] = [];
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "riffle-windows-"));
});
afterAll(async () => {
  for (const b of backends) await b.dispose();
  await rm(root, { recursive: true, force: true });
});

/** A record, a watermark, or the processing-time clock moving to `clock` (firing the timers due on the way). */
type Step = { record: Ev } | { watermark: number } | { clock: number };

/** The events with a bounded out-of-orderness watermark after each, and the end of input. */
function stepsOf(events: readonly Ev[], bound: number): Step[] {
  const steps: Step[] = [];
  let max = Number.MIN_SAFE_INTEGER;
  for (const e of events) {
    steps.push({ record: e });
    max = Math.max(max, e.t);
    steps.push({ watermark: max - bound - 1 });
  }
  steps.push({ watermark: MAX_WATERMARK });
  return steps;
}

interface Snapshot {
  dir: string;
  keyed: KeyedStateHandle[];
  operator: OperatorStateHandle[];
}

/** One subtask of a window operator over real state backends, driven record by record. */
class Subtask {
  readonly out: string[] = [];
  private constructor(
    readonly op: StreamOperator,
    readonly keyed: KeyedStateBackend,
    private readonly operatorState: OperatorStateBackend,
    readonly range: { start: number; end: number },
    private readonly clock: ManualProcessingTime,
  ) {}

  static async create(
    factory: () => StreamOperator,
    backend: "memory" | "leveldb",
    subtask: number,
    parallelism: number,
    restore?: Snapshot,
  ): Promise<Subtask> {
    const range = keyGroupRangeForSubtask(subtask, parallelism, MAX_P);
    const clock = new ManualProcessingTime(0);
    // A small LevelDB cache: state values go through the codec and back while windows are open.
    const keyed = await createKeyedStateBackend(
      backend === "memory"
        ? { type: "memory", maxParallelism: MAX_P, keyGroupRange: range }
        : { type: "leveldb", maxParallelism: MAX_P, keyGroupRange: range, directory: join(root, `db-${seq++}`), cacheMaxEntries: 20 },
    );
    backends.push(keyed);
    const operatorState = new OperatorStateBackend({ subtaskIndex: subtask, parallelism });
    if (restore) {
      await keyed.restore(restore.dir, keyedHandlesFor(restore.keyed, range));
      await operatorState.restore(restore.dir, restore.operator);
    }
    const op = factory();
    const s = new Subtask(op, keyed, operatorState, range, clock);
    op.output = {
      collect: (r, ts) => s.out.push(`${String(r)} @${ts}`),
      collectSide: (tag, r, ts) => s.out.push(`${tag}: ${JSON.stringify(r)} @${ts}`),
      emitWatermark() {},
      emitWatermarkStatus() {},
    };
    const rt: OperatorRuntime = {
      ctx: testRuntimeContext({ jobId: "t", jobName: "t", taskName: "w", subtaskIndex: subtask, parallelism, maxParallelism: MAX_P }),
      services: { collect: async () => {} } as never,
      processingTime: clock,
      autoWatermarkIntervalMs: 0,
    };
    await op.initializeState({ keyed, operator: operatorState, isRestored: restore !== undefined }, rt);
    await op.open(rt);
    return s;
  }

  /** Rows left in a memory backend (undefined for leveldb). */
  rows(): number | undefined {
    return this.keyed instanceof MemoryKeyedStateBackend ? this.keyed.rowCount() : undefined;
  }

  owns(key: string): boolean {
    const kg = keyGroupOf(key, MAX_P);
    return kg >= this.range.start && kg <= this.range.end;
  }

  step(s: Step): void {
    if ("record" in s) this.op.processElement(s.record, s.record.t);
    else if ("clock" in s) this.clock.advanceTo(s.clock);
    else {
      this.op.processWatermark(s.watermark);
      while (this.op.hasPendingWork()) this.op.continueWork();
    }
  }

  async checkpoint(id: number): Promise<Snapshot> {
    const dir = join(root, `chk-${seq++}`);
    this.op.snapshotState(id);
    const keyed = await this.keyed.snapshot().write(dir);
    const operator = await this.operatorState.snapshot().write(dir);
    return { dir, keyed: [keyed], operator: [operator] };
  }
}

function labelled(key: string, ctx: ProcessWindowContext<TimeWindow>, results: unknown[], out: Collector<string>) {
  const fires = ctx.windowState().getState(new ValueStateDescriptor<number>("fires", 0));
  fires.update(fires.value()! + 1);
  out.collect(`${key}[${ctx.window.start},${ctx.window.end}) #${fires.value()} ${JSON.stringify(results)}`);
}

function listed(key: string, ctx: ProcessWindowContext<TimeWindow>, els: Ev[], out: Collector<string>) {
  out.collect(`${key}[${ctx.window.start},${ctx.window.end}) ${els.map((e) => e.t).sort((a, b) => a - b)}`);
}

const late = new OutputTag<Ev>("late");
const sum = (a: Ev, b: Ev): Ev => ({ k: a.k, t: Math.max(a.t, b.t), v: a.v + b.v });

function keyed<W extends TimeWindow>(env: StreamExecutionEnvironment, assigner: WindowAssigner<Ev, W>) {
  return eventStream(env, [], 0)
    .keyBy((e) => e.k)
    .window(assigner);
}

type Pipeline = (env: StreamExecutionEnvironment) => SingleOutputStreamOperator<string>;

/** Window pipelines that keep every kind of window state: contents, trigger state, per-window state, session mappings, timers. */
const pipelines: [string, Pipeline][] = [
  ["sessions (process, lateness)", (env) => keyed(env, EventTimeSessionWindows.withGap(400)).allowedLateness(300).sideOutputLateData(late).process(listed)],
  [
    "sliding by slices (reduce, lateness)",
    (env) => keyed(env, SlidingEventTimeWindows.of(3_000, 1_000)).allowedLateness(1_000).sideOutputLateData(late).reduce(sum, labelled),
  ],
  [
    "sliding per window (reduce, lateness)",
    (env) =>
      keyed(env, SlidingEventTimeWindows.of(3_000, 1_000))
        .trigger(EventTimeTrigger.create())
        .allowedLateness(1_000)
        .sideOutputLateData(late)
        .reduce(sum, labelled),
  ],
  [
    "tumbling (continuous trigger, evictor)",
    (env) => keyed(env, TumblingEventTimeWindows.of(4_000)).trigger(ContinuousEventTimeTrigger.of(1_000)).evictor(CountEvictor.of(3)).process(listed),
  ],
];

function factoryOf(pipeline: Pipeline): () => StreamOperator {
  const env = new StreamExecutionEnvironment("run");
  const stream = pipeline(env);
  return env.functions[stream.transformation.operator!.fn] as () => StreamOperator;
}

describe("window state survives checkpoints, restores and rescaling", () => {
  for (const backend of ["memory", "leveldb"] as const) {
    for (const [name, pipeline] of pipelines) {
      it(`${backend}, ${name}: restored at parallelism 1 and 2, the output equals an uninterrupted run`, async () => {
        const factory = factoryOf(pipeline);
        const events = randomEvents(prng(name.length), 300, { keys: 6, step: 120, disorder: 6_000 });
        const steps = stepsOf(events, 800);

        const reference = await Subtask.create(factory, backend, 0, 1);
        for (const s of steps) reference.step(s);
        expect(reference.out.length).toBeGreaterThan(20);
        expect(reference.out.some((x) => x.startsWith("late"))).toBe(name.includes("lateness"));
        // Every window was dropped at its cleanup time: no state is left.
        if (backend === "memory") expect(reference.rows()).toBe(0);

        // Cut after a watermark. Watermarks are not part of checkpoints (as in Flink): until the first
        // one after a restore, nothing is late. The restored subtasks get the last one again first.
        for (const cut of [steps.length / 3, (2 * steps.length) / 3].map((x) => 2 * Math.floor(x / 2))) {
          const before = await Subtask.create(factory, backend, 0, 1);
          for (const s of steps.slice(0, cut)) before.step(s);
          const snapshot = await before.checkpoint(1);
          for (const parallelism of [1, 2]) {
            const after = await Promise.all(Array.from({ length: parallelism }, (_, i) => Subtask.create(factory, backend, i, parallelism, snapshot)));
            for (const s of steps.slice(cut - 1)) {
              for (const sub of after) if (!("record" in s) || sub.owns(s.record.k)) sub.step(s);
            }
            expect(sorted([...before.out, ...after.flatMap((a) => a.out)])).toEqual(sorted(reference.out));
            if (backend === "memory") for (const a of after) expect(a.rows()).toBe(0);
          }
        }
      });
    }
  }
});

/**
 * Processing time: record i arrives with the clock at its `t`, and the clock then moves to the next
 * record's `t` (at the end, past every window). The cut falls after a clock step; the restored subtasks
 * start with their clock at 0 and take that step again, which fires nothing: every timer due by then
 * fired before the checkpoint, and the ones restored are later.
 */
describe("sliding processing-time windows survive checkpoints, restores and rescaling", () => {
  const processingTime: [string, Pipeline][] = [
    ["by slices", (env) => keyed(env, SlidingProcessingTimeWindows.of(3_000, 1_000)).reduce(sum, labelled)],
    ["per window", (env) => keyed(env, SlidingProcessingTimeWindows.of(3_000, 1_000)).trigger(ProcessingTimeTrigger.create()).reduce(sum, labelled)],
  ];
  for (const backend of ["memory", "leveldb"] as const) {
    for (const [name, pipeline] of processingTime) {
      it(`${backend}, ${name}: restored at parallelism 1 and 2, the output equals an uninterrupted run`, async () => {
        const factory = factoryOf(pipeline);
        expect(factory() instanceof SlicingWindowOperator).toBe(name === "by slices");
        // Arrival times in tens of ms, so the clock never stops at a window's last millisecond (where
        // the per-window operator may fire a window twice).
        const events = randomEvents(prng(name.length), 300, { keys: 6, step: 120, grain: 10 });
        const steps: Step[] = [];
        for (const [i, e] of events.entries()) steps.push({ record: e }, { clock: events[i + 1]?.t ?? e.t + 10_000 });

        const reference = await Subtask.create(factory, backend, 0, 1);
        for (const s of steps) reference.step(s);
        expect(reference.out.length).toBeGreaterThan(20);
        // Each window fired once.
        expect(reference.out.every((x) => x.includes(" #1 "))).toBe(true);
        if (backend === "memory") expect(reference.rows()).toBe(0);

        for (const cut of [steps.length / 3, (2 * steps.length) / 3].map((x) => 2 * Math.floor(x / 2))) {
          const before = await Subtask.create(factory, backend, 0, 1);
          for (const s of steps.slice(0, cut)) before.step(s);
          const snapshot = await before.checkpoint(1);
          for (const parallelism of [1, 2]) {
            const after = await Promise.all(Array.from({ length: parallelism }, (_, i) => Subtask.create(factory, backend, i, parallelism, snapshot)));
            for (const s of steps.slice(cut - 1)) {
              for (const sub of after) if (!("record" in s) || sub.owns(s.record.k)) sub.step(s);
            }
            expect(sorted([...before.out, ...after.flatMap((a) => a.out)])).toEqual(sorted(reference.out));
            if (backend === "memory") for (const a of after) expect(a.rows()).toBe(0);
          }
        }
      });
    }
  }
});

describe("per-window state after a restore", () => {
  // A window that fired before the checkpoint and whose cleanup is the first thing the restored
  // subtask does: its function never runs again there, yet its per-window state must go.
  const cases: [string, Pipeline][] = [
    ["sliced", (env) => keyed(env, TumblingEventTimeWindows.of(1_000)).allowedLateness(500).reduce(sum, labelled)],
    ["per window", (env) => keyed(env, TumblingEventTimeWindows.of(1_000)).trigger(EventTimeTrigger.create()).allowedLateness(500).reduce(sum, labelled)],
  ];
  for (const [name, pipeline] of cases) {
    it(`${name}: is cleared with its window when the cleanup timer fires first after the restore`, async () => {
      const factory = factoryOf(pipeline);
      const before = await Subtask.create(factory, "memory", 0, 1);
      before.step({ record: { k: "a", t: 100, v: 1 } });
      before.step({ watermark: 999 });
      expect(before.out).toEqual(['a[0,1000) #1 [{"k":"a","t":100,"v":1}] @999']);
      // The window's per-window state ("fires") and its slice or contents wait for the cleanup at 1499.
      expect(before.rows()).toBeGreaterThan(0);
      const snapshot = await before.checkpoint(1);

      const after = await Subtask.create(factory, "memory", 0, 1, snapshot);
      after.step({ watermark: 999 });
      after.step({ watermark: 1_499 });
      expect(after.out).toEqual([]);
      expect(after.rows()).toBe(0);
    });
  }
});
