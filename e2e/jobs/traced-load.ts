/**
 * Load that follows a scripted trace, for the autoscaler tests: a source at parallelism 1 whose
 * records "arrive" at the trace's rate from the job's first start (like messages landing in a Kafka
 * topic: what the job does not read waits as backlog, reported as pendingRecords), rebalanced into a
 * map that costs a fixed time per record, chained into the exactly-once file sink.
 *
 * The map's cost is a blocking wait (Atomics.wait), not a busy loop: a subtask is busy for that time
 * without using a core, so capacity grows with parallelism even on a 2-core machine, and busy time
 * measures it honestly.
 *
 * Record i is the number i; the trace's records are 0..N-1 with N its integral, so every correct run
 * commits each number exactly once, however often it was rescaled.
 *
 *   args: --out <dir> --trace <seconds:rate,...> (e.g. "20:40,40:120": 40/s for 20 s, then 120/s for 40 s)
 *         --cost-ms <ms per record>   (Work and the sink run at the submission's parallelism)
 *         [--autoscaler <json of job.autoscaler.* settings>] [--checkpoint-interval <ms>]
 *         [--shared-lock <path>]  Work's cost is paid under one lock file shared by all its subtasks,
 *                                 whatever process they run in: a vertex that cannot go faster
 */
import { openSync, closeSync, unlinkSync } from "node:fs";
import type { PollResult, ReaderOutput, RuntimeContext, Source, SourceReader, StreamExecutionEnvironment } from "@riffle/sdk";

interface Segment {
  seconds: number;
  rate: number;
}

function parseTrace(text: string): Segment[] {
  return text.split(",").map((part) => {
    const [seconds, rate] = part.split(":").map(Number);
    if (!(seconds! > 0) || !(rate! >= 0)) throw new Error(`--trace: "${part}" is not seconds:rate`);
    return { seconds: seconds!, rate: rate! };
  });
}

/** Records due `ms` after the trace started. */
function dueAt(trace: readonly Segment[], ms: number): number {
  let due = 0;
  let t = ms / 1000;
  for (const s of trace) {
    const d = Math.min(t, s.seconds);
    due += d * s.rate;
    t -= d;
    if (t <= 0) break;
  }
  return Math.floor(due);
}

/** Position: the next record, and when the trace started (the job's first start, kept across restores). */
interface Position {
  next: number;
  origin: number;
}

class TracedSource implements Source<number> {
  readonly boundedness = "bounded";
  readonly maxParallelism = 1;
  private readonly total: number;

  constructor(private readonly trace: Segment[]) {
    this.total = Math.floor(trace.reduce((sum, s) => sum + s.seconds * s.rate, 0));
  }

  createReader(_ctx: RuntimeContext, restored?: unknown[]): SourceReader<number> {
    const trace = this.trace;
    const total = this.total;
    const position = (restored?.[0] as Position | undefined) ?? { next: 0, origin: Date.now() };
    let next = position.next;
    const origin = position.origin;
    const due = () => Math.min(total, dueAt(trace, Date.now() - origin));
    return {
      pollNext(output: ReaderOutput<number>, max: number): PollResult {
        const until = Math.min(due(), next + max);
        while (next < until) output.collect(next++);
        if (next >= total) return "END_OF_INPUT";
        return next < due() ? "MORE_AVAILABLE" : "NOTHING_AVAILABLE";
      },
      // The next record is due within a few ms at any rate the tests use.
      isAvailable: () => new Promise((resolve) => setTimeout(resolve, 5)),
      pendingRecords: () => Math.max(0, due() - next),
      snapshotState: (): Position[] => [{ next, origin }],
    };
  }
}

export default function tracedLoad(env: StreamExecutionEnvironment): void {
  const cost = Number(env.param("cost-ms"));
  const settings = JSON.parse(env.param("autoscaler", "{}")) as Record<string, string | number | boolean>;
  // --checkpoint-interval 0: no checkpoints (a job the JobManager must refuse to autoscale).
  const interval = Number(env.param("checkpoint-interval", "500"));
  if (interval > 0) env.enableCheckpointing(interval);
  env.setRestartStrategy({ type: "fixed-delay", attempts: 3, delayMs: 200 });
  env.enableAutoscaling(settings);
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const lock = env.param("shared-lock", "");
  /** Pays `cost` ms, under the shared lock when there is one (a file created exclusively: a mutex across processes). */
  const pay = () => {
    if (!lock) {
      Atomics.wait(sleeper, 0, 0, cost);
      return;
    }
    for (;;) {
      try {
        closeSync(openSync(lock, "wx"));
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        Atomics.wait(sleeper, 0, 0, 1);
      }
    }
    try {
      Atomics.wait(sleeper, 0, 0, cost);
    } finally {
      unlinkSync(lock);
    }
  };
  env
    .fromSource(new TracedSource(parseTrace(env.param("trace"))), "Traced Source")
    .uid("traced-source")
    .setParallelism(1)
    .rebalance()
    .map((i: number) => {
      pay();
      return i;
    })
    .name("Work")
    .uid("work")
    .writeExactlyOnce(env.param("out"))
    .uid("files");
}
