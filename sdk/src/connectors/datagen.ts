import type { RuntimeContext } from "../api/functions.js";
import type { PollResult, ReaderOutput, Source, SourceReader } from "../api/source.js";

/** A small deterministic random generator (splitmix32), seeded per record. */
export interface SeededRandom {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

export interface DatagenOptions<T> {
  /** Builds record `index` (0-based across the whole job); `random` is seeded from (seed, index) and valid only during the call. */
  generator: (index: number, random: SeededRandom) => T;
  /** Total records; omit for an unbounded stream. */
  count?: number;
  /** Total records per second over all subtasks; omit for as fast as the pipeline takes them. */
  ratePerSecond?: number;
  seed?: number;
}

/**
 * splitmix32 re-seeded for every record from (seed, index), so record i is the same whatever the
 * parallelism. One instance per reader is reused: generating a record allocates nothing.
 */
class RecordRandom implements SeededRandom {
  private state = 0;

  reset(seed: number, index: number): this {
    this.state = (Math.imul(seed | 0, 0x9e3779b9) ^ index ^ Math.floor(index / 4294967296)) | 0;
    return this;
  }

  private next32(): number {
    this.state = (this.state + 0x9e3779b9) | 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }

  next(): number {
    return this.next32() / 4294967296;
  }

  int(n: number): number {
    return Math.floor((this.next32() / 4294967296) * n);
  }
}

/**
 * Progress of one subtask: it emitted every record i with i % parallelism === subtask and i < next.
 * The union of these over all subtasks (and over earlier parallelisms, after a rescale) is the set of
 * records emitted before a checkpoint.
 */
interface Progress {
  parallelism: number;
  subtask: number;
  next: number;
}

function emittedBy(rules: readonly Progress[], i: number): boolean {
  for (const r of rules) if (i % r.parallelism === r.subtask && i < r.next) return true;
  return false;
}

/**
 * Generated records, the same for a given seed whatever the parallelism: subtask i of p emits the
 * records with index i, i+p, i+2p, ... A rate limit is shared evenly by the subtasks.
 *
 * Positions are union state: on restore every subtask sees every old subtask's progress, so at any
 * new parallelism it skips exactly the records emitted before the checkpoint.
 */
export class DatagenSource<T> implements Source<T> {
  readonly boundedness: "bounded" | "unbounded";
  readonly stateMode = "union";

  constructor(private readonly options: DatagenOptions<T>) {
    if (typeof options?.generator !== "function") throw new Error("datagen needs a generator function");
    if (options.count !== undefined && (!Number.isInteger(options.count) || options.count < 0))
      throw new Error(`datagen count must be a non-negative integer, got ${options.count}`);
    if (options.ratePerSecond !== undefined && !(options.ratePerSecond > 0))
      throw new Error(`datagen ratePerSecond must be positive, got ${options.ratePerSecond}`);
    this.boundedness = options.count === undefined ? "unbounded" : "bounded";
  }

  createReader(ctx: RuntimeContext, restored?: unknown[]): SourceReader<T> {
    const { generator, count = Number.POSITIVE_INFINITY, ratePerSecond, seed = 0 } = this.options;
    const step = ctx.parallelism;
    let index = ctx.subtaskIndex;
    // Progress of earlier runs that this subtask's own progress does not cover yet.
    // (A rule of the same parallelism for another subtask never covers this subtask's records.)
    let prior = dedupe((restored ?? []) as Progress[]).filter((r) => r.parallelism !== step);
    const own = (restored as Progress[] | undefined)?.find((r) => r.parallelism === step && r.subtask === ctx.subtaskIndex);
    if (own) index = Math.max(index, own.next);
    if (prior.length > 0) {
      // Everything below the lowest earlier position was emitted: start there.
      const low = Math.min(...prior.map((r) => r.next - r.parallelism));
      if (index < low) index = low + ((((ctx.subtaskIndex - low) % step) + step) % step);
    }
    let priorEnd = prior.reduce((m, r) => Math.max(m, r.next), 0);
    let emitted = 0;
    let startedAt: number | undefined;
    const rate = ratePerSecond === undefined ? undefined : ratePerSecond / step;
    let waitUntil = 0;
    const random = new RecordRandom();
    return {
      start() {
        startedAt = performance.now();
      },
      pollNext(output: ReaderOutput<T>, max: number): PollResult {
        let budget = max;
        if (rate !== undefined) {
          startedAt ??= performance.now();
          const allowed = Math.floor(((performance.now() - startedAt) * rate) / 1000) + 1 - emitted;
          if (allowed <= 0) {
            waitUntil = startedAt + (emitted * 1000) / rate;
            return index < count ? "NOTHING_AVAILABLE" : "END_OF_INPUT";
          }
          budget = Math.min(budget, allowed);
        }
        for (let n = 0; n < budget && index < count; n++) {
          if (index < priorEnd && emittedBy(prior, index)) {
            index += step;
            continue;
          }
          output.collect(generator(index, random.reset(seed, index)));
          index += step;
          emitted++;
        }
        if (prior.length > 0 && index >= priorEnd) {
          prior = [];
          priorEnd = 0;
        }
        return index < count ? "MORE_AVAILABLE" : "END_OF_INPUT";
      },
      // Flink's pendingRecords: what the rate made due and was not emitted yet (the backlog a slow
      // pipeline leaves behind, which the autoscaler reads as lag), else what is left of a bounded count.
      pendingRecords(): number | undefined {
        const left = count === Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : Math.max(0, Math.ceil((count - index) / step));
        if (rate === undefined) return left === Number.POSITIVE_INFINITY ? undefined : left;
        if (startedAt === undefined) return 0;
        const due = Math.floor(((performance.now() - startedAt) * rate) / 1000) + 1 - emitted;
        return Math.max(0, Math.min(due, left));
      },
      snapshotState: (): Progress[] => [{ parallelism: step, subtask: ctx.subtaskIndex, next: index }, ...prior],
      isAvailable(): Promise<void> {
        const delay = waitUntil - performance.now();
        // The rate limit is a clock event: the next record is due at `waitUntil`.
        return delay <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, Math.ceil(delay)));
      },
    };
  }
}

function dedupe(rules: readonly Progress[]): Progress[] {
  const seen = new Map<string, Progress>();
  for (const r of rules) {
    const k = `${r.parallelism}/${r.subtask}`;
    const had = seen.get(k);
    if (!had || had.next < r.next) seen.set(k, r);
  }
  return [...seen.values()];
}
