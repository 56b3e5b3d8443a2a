import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KeyGroupRange, type KeyedStateHandle, canonicalKey, keyGroupOf, keyGroupRangeForSubtask } from "@riffle/shared";
import {
  type Collector,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type KeyedStateStore,
  type OnTimerContext,
  type RuntimeContext,
  type ValueState,
  ValueStateDescriptor,
} from "@riffle/sdk";
import { KeyedProcessOperator, MAX_WATERMARK, type OperatorRuntime, type StreamOperator } from "@riffle/sdk/internal";
import { ManualProcessingTime, testRuntimeContext } from "../testing/index.js";
import { prng } from "../windowing/fixtures.js";
import { type KeyedStateBackend, OperatorStateBackend, createKeyedStateBackend, keyedHandlesFor } from "./index.js";
import { readKeyedSnapshot } from "./snapshot-format.js";

const MAX_P = 128;

let root: string;
let seq = 0;
const backends: KeyedStateBackend[] = [];
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "riffle-timers-"));
});
afterAll(async () => {
  for (const b of backends) await b.dispose().catch(() => {});
  await rm(root, { recursive: true, force: true });
});

function newBackend(type: "memory" | "leveldb", range: KeyGroupRange): Promise<KeyedStateBackend> {
  return createKeyedStateBackend(
    type === "memory"
      ? { type, maxParallelism: MAX_P, keyGroupRange: range }
      : { type, maxParallelism: MAX_P, keyGroupRange: range, directory: join(root, `db-${seq++}`), cacheMaxEntries: 16 },
  ).then((b) => {
    backends.push(b);
    return b;
  });
}

/** A record: key parts (the key is the tuple [k, n], so timers must keep keys that are not strings) and times. */
interface Rec {
  k: string;
  n: number;
  t: number;
}
type Step = { record: Rec } | { watermark: number } | { clock: number };

/**
 * Per record: a count in keyed state, an event-time timer at t + 500, a processing-time timer at
 * t + 700, and the deletion of the event-time timer of t + 400 (a record of the key 100 ms earlier
 * set it); each timer emits its key (a tuple, as the user's key selector made it), domain, time and
 * the key's count then.
 */
class TimerFunction implements KeyedProcessFunction<[string, number], Rec, string> {
  private count!: ValueState<number>;

  open(ctx: RuntimeContext): void {
    this.count = (ctx as RuntimeContext & KeyedStateStore).getState(new ValueStateDescriptor<number>("count", 0));
  }

  processElement(r: Rec, ctx: KeyedProcessContext<[string, number]>): void {
    this.count.update(this.count.value()! + 1);
    ctx.timerService().registerEventTimeTimer(r.t + 500);
    ctx.timerService().registerProcessingTimeTimer(r.t + 700);
    ctx.timerService().deleteEventTimeTimer(r.t + 400);
  }

  onTimer(timestamp: number, ctx: OnTimerContext<[string, number]>, out: Collector<string>): void {
    out.collect(`${JSON.stringify(ctx.getCurrentKey())} ${ctx.timeDomain} ${timestamp} count=${this.count.value()}`);
  }
}

const keyOf = (r: Rec): [string, number] => [r.k, r.n];

/** One subtask of the keyed process operator over a real backend, driven step by step. */
class Subtask {
  readonly out: string[] = [];
  private constructor(
    readonly op: StreamOperator,
    readonly keyed: KeyedStateBackend,
    readonly operatorState: OperatorStateBackend,
    readonly clock: ManualProcessingTime,
    readonly range: KeyGroupRange,
  ) {}

  static async create(
    type: "memory" | "leveldb",
    subtask: number,
    parallelism: number,
    now: number,
    restore?: { dir: string; keyed: KeyedStateHandle[] },
  ): Promise<Subtask> {
    const range = keyGroupRangeForSubtask(subtask, parallelism, MAX_P);
    const keyed = await newBackend(type, range);
    // Operator state is restored from nothing: timers must come from the keyed handles alone.
    const operatorState = new OperatorStateBackend({ subtaskIndex: subtask, parallelism });
    if (restore) await keyed.restore(restore.dir, keyedHandlesFor(restore.keyed, range));
    const clock = new ManualProcessingTime(now);
    const op = new KeyedProcessOperator(new TimerFunction(), keyOf);
    const s = new Subtask(op, keyed, operatorState, clock, range);
    op.output = { collect: (r) => s.out.push(String(r)), collectSide() {}, emitWatermark() {}, emitWatermarkStatus() {} };
    const rt: OperatorRuntime = {
      ctx: testRuntimeContext({ jobId: "t", jobName: "t", taskName: "p", subtaskIndex: subtask, parallelism, maxParallelism: MAX_P }),
      services: { collect: async () => {} } as never,
      processingTime: clock,
      autoWatermarkIntervalMs: 0,
    };
    await op.initializeState({ keyed, operator: operatorState, isRestored: restore !== undefined }, rt);
    await op.open(rt);
    return s;
  }

  owns(r: Rec): boolean {
    const kg = keyGroupOf(keyOf(r), MAX_P);
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

  /** The timers held, as `domain|timestamp|key|namespace` strings, sorted. */
  timers(): string[] {
    const out: string[] = [];
    for (const domain of ["event", "processing"]) {
      for (const t of this.keyed.getTimerQueue(`user-timers/${domain}`).values()) {
        expect(t.keyGroup).toBe(keyGroupOf(t.key, MAX_P));
        out.push(`${domain}|${t.timestamp}|${JSON.stringify(t.key)}|${t.namespace}`);
      }
    }
    return out.sort();
  }

  async checkpoint(id: number, dir: string): Promise<KeyedStateHandle> {
    this.op.snapshotState(id);
    return await this.keyed.snapshot().write(dir);
  }
}

/** Records over 40 keys (many key groups) with a watermark and a processing-time step after each. */
function stepsOf(n: number): Step[] {
  const rand = prng(7);
  const steps: Step[] = [];
  let t = 0;
  for (let i = 0; i < n; i++) {
    t += Math.floor(rand() * 60);
    steps.push({ record: { k: `key-${Math.floor(rand() * 8)}`, n: Math.floor(rand() * 5), t } });
    steps.push({ clock: t });
    steps.push({ watermark: t - 300 });
  }
  steps.push({ clock: t + 10_000 });
  steps.push({ watermark: MAX_WATERMARK });
  return steps;
}

const inRange = (timer: string, range: KeyGroupRange) => {
  const kg = keyGroupOf(JSON.parse(timer.split("|")[2]!), MAX_P);
  return kg >= range.start && kg <= range.end;
};

describe("timers are keyed state", () => {
  for (const type of ["memory", "leveldb"] as const) {
    it(`${type}: restored 1 → 2 → 1, each subtask holds exactly its key groups' timers, and they fire as in an uninterrupted run`, async () => {
      const steps = stepsOf(300);
      const reference = await Subtask.create(type, 0, 1, 0);
      for (const s of steps) reference.step(s);
      expect(reference.out.filter((x) => x.includes("EVENT_TIME")).length).toBeGreaterThan(50);
      expect(reference.out.filter((x) => x.includes("PROCESSING_TIME")).length).toBeGreaterThan(50);

      // Cuts just after a watermark step (restored subtasks get it again: watermarks are not checkpointed).
      const cut1 = 3 * 100;
      const cut2 = 3 * 200;
      const clockAt = (cut: number) => (steps[cut - 2] as { clock: number }).clock;

      const first = await Subtask.create(type, 0, 1, 0);
      for (const s of steps.slice(0, cut1)) first.step(s);
      const chk1 = { dir: join(root, `chk-${seq++}`), keyed: [] as KeyedStateHandle[] };
      chk1.keyed.push(await first.checkpoint(1, chk1.dir));
      const pending1 = first.timers();
      expect(pending1.length).toBeGreaterThan(20);

      // 1 → 2: each subtask restores from the one handle and keeps exactly its key groups.
      const two = [await Subtask.create(type, 0, 2, clockAt(cut1), chk1), await Subtask.create(type, 1, 2, clockAt(cut1), chk1)];
      for (const sub of two) {
        const own = sub.timers();
        expect(own).toEqual(pending1.filter((t) => inRange(t, sub.range)));
        expect(own.length).toBeGreaterThan(0);
      }
      for (const s of steps.slice(cut1 - 1, cut2)) for (const sub of two) if (!("record" in s) || sub.owns(s.record)) sub.step(s);
      const chk2 = { dir: join(root, `chk-${seq++}`), keyed: [] as KeyedStateHandle[] };
      for (const sub of two) chk2.keyed.push(await sub.checkpoint(2, chk2.dir));
      const pending2 = two.flatMap((sub) => sub.timers()).sort();
      expect(pending2.length).toBeGreaterThan(20);

      // 2 → 1: the one subtask reads both handles and holds every timer of both.
      const one = await Subtask.create(type, 0, 1, clockAt(cut2), chk2);
      expect(one.timers()).toEqual(pending2);
      for (const s of steps.slice(cut2 - 1)) one.step(s);
      expect(one.timers()).toEqual([]);

      const all = [...first.out, ...two.flatMap((sub) => sub.out), ...one.out];
      expect(all.sort()).toEqual([...reference.out].sort());
    });
  }

  it("the synchronous part of a snapshot copies the timer queues and encodes nothing; the asynchronous part writes them as of the capture", async () => {
    for (const type of ["memory", "leveldb"] as const) {
      const backend = await newBackend(type, { start: 0, end: MAX_P - 1 });
      const queue = backend.getTimerQueue("t/event");
      // Keys whose every read is counted: hashing or encoding a key reads its field.
      let reads = 0;
      const keyFor = (i: number) => {
        const key = {};
        Object.defineProperty(key, "id", {
          enumerable: true,
          get: () => {
            reads++;
            return i;
          },
        });
        return key;
      };
      const N = 20_000;
      for (let i = 0; i < N; i++) {
        const key = keyFor(i);
        backend.setCurrentKey(key);
        queue.add(i, key, "", backend.getCurrentKeyGroup());
      }

      reads = 0;
      const capture = backend.snapshot();
      expect(reads).toBe(0);

      // After the capture: half the timers deleted, one fired, new ones added. The snapshot must not see any of it.
      for (let i = 0; i < N; i += 2) queue.remove(i, { id: i }, "");
      expect(queue.poll()!.timestamp).toBe(1);
      for (let i = N; i < N + 100; i++) queue.add(i, { id: i }, "", keyGroupOf({ id: i }, MAX_P));

      reads = 0;
      const dir = join(root, `sync-${seq++}`);
      const handle = await capture.write(dir);
      // Encoding happened here, in the asynchronous part: every captured timer's key was read.
      expect(reads).toBeGreaterThanOrEqual(N);

      const written: number[] = [];
      const wrong: string[] = [];
      let queues: string[] = [];
      await readKeyedSnapshot(dir, handle, handle.keyGroupRange, MAX_P, {
        onHeader: (_states, timerQueues) => {
          queues = timerQueues;
        },
        onEntry: () => {},
        onTimer: (keyGroup, queueId, timestamp, key, namespace) => {
          // Collected, not asserted one by one: 20 000 expect calls would dominate the test's time.
          const ok =
            queues[queueId] === "t/event" && keyGroup === keyGroupOf(key, MAX_P) && canonicalKey(key) === canonicalKey({ id: timestamp }) && namespace === "";
          if (!ok) wrong.push(`${queueId} ${keyGroup} ${timestamp} ${canonicalKey(key)} ${namespace}`);
          written.push(timestamp);
        },
      });
      expect(wrong).toEqual([]);
      expect(written.sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i));
    }
  });
});
