/**
 * The Nexmark source for Riffle: subtask i of p emits events i, i+p, i+2p, ... of the generator's
 * stream, each with its dateTime as the record's timestamp. Every subtask walks through event time at
 * the same pace (interleaved, not contiguous ranges), so their watermarks stay together and the job's
 * watermark is not held back by the slowest range.
 *
 * Positions are union state, as DatagenSource's: each subtask checkpoints (parallelism, subtask, next
 * event), and on restore every subtask sees all of them, so at any new parallelism it skips exactly the
 * events emitted before the checkpoint. Since an event is a pure function of (config, n), a restored
 * job emits the same events as an uninterrupted one.
 *
 *   env.fromSource(new NexmarkSource({ maxEvents: 100_000_000, outOfOrdernessMs: 100 }),
 *     WatermarkStrategy.forBoundedOutOfOrderness<Event>(100), "Nexmark Source")
 */
import type { PollResult, ReaderOutput, RuntimeContext, Source, SourceReader } from "@riffle/sdk";
import { type NexmarkConfig, NexmarkGenerator, nexmarkConfig } from "./generator.js";
import type { Event } from "./model.js";

export interface NexmarkSourceOptions extends Partial<NexmarkConfig> {
  /**
   * Wall-clock events per second over all subtasks (shared evenly), like Nexmark's `rate.limited`;
   * omit for as fast as the pipeline takes them (Nexmark's max-emit-speed, as in its published runs).
   * Unrelated to eventsPerSecond, which spaces the event timestamps.
   */
  ratePerSecond?: number;
}

/**
 * Progress of one subtask: it emitted every event n with n % parallelism === subtask and n < next.
 * The union over all subtasks (and earlier parallelisms, after a rescale) is what was emitted.
 */
export interface NexmarkPosition {
  parallelism: number;
  subtask: number;
  next: number;
}

function isPosition(v: unknown): v is NexmarkPosition {
  const p = v as NexmarkPosition;
  return typeof v === "object" && v !== null && Number.isInteger(p.parallelism) && Number.isInteger(p.subtask) && Number.isInteger(p.next);
}

function emittedBy(rules: readonly NexmarkPosition[], n: number): boolean {
  for (const r of rules) if (n % r.parallelism === r.subtask && n < r.next) return true;
  return false;
}

function dedupe(rules: readonly NexmarkPosition[]): NexmarkPosition[] {
  const seen = new Map<string, NexmarkPosition>();
  for (const r of rules) {
    const k = `${r.parallelism}/${r.subtask}`;
    const had = seen.get(k);
    if (!had || had.next < r.next) seen.set(k, r);
  }
  return [...seen.values()];
}

export class NexmarkSource implements Source<Event> {
  readonly boundedness: "bounded" | "unbounded";
  readonly stateMode = "union";
  private readonly config: NexmarkConfig;
  private readonly ratePerSecond: number | undefined;

  constructor(options: NexmarkSourceOptions = {}) {
    const { ratePerSecond, ...config } = options;
    this.config = nexmarkConfig(config);
    if (ratePerSecond !== undefined && !(ratePerSecond > 0)) throw new Error(`nexmark ratePerSecond must be positive, got ${ratePerSecond}`);
    this.ratePerSecond = ratePerSecond;
    this.boundedness = this.config.maxEvents === undefined ? "unbounded" : "bounded";
  }

  createReader(ctx: RuntimeContext, restored?: unknown[]): SourceReader<Event> {
    const gen = new NexmarkGenerator(this.config);
    const count = gen.maxEvents;
    const step = ctx.parallelism;
    const subtask = ctx.subtaskIndex;
    const positions = dedupe((restored ?? []).filter(isPosition));
    let next = subtask;
    const own = positions.find((r) => r.parallelism === step && r.subtask === subtask);
    if (own) next = Math.max(next, own.next);
    // Progress of earlier runs at other parallelisms that this subtask's own progress does not cover.
    // (A position of the same parallelism for another subtask never covers this subtask's events.)
    let prior = positions.filter((r) => r.parallelism !== step);
    if (prior.length > 0) {
      // Everything below the lowest earlier position was emitted: start at the first of ours from there.
      const low = Math.min(...prior.map((r) => r.next - r.parallelism));
      if (next < low) next = low + ((((subtask - low) % step) + step) % step);
    }
    let priorEnd = prior.reduce((m, r) => Math.max(m, r.next), 0);
    const rate = this.ratePerSecond === undefined ? undefined : this.ratePerSecond / step;
    let emitted = 0;
    let startedAt = 0;
    let waitUntil = 0;
    return {
      start() {
        startedAt = performance.now();
      },
      pollNext(output: ReaderOutput<Event>, max: number): PollResult {
        let budget = max;
        if (rate !== undefined) {
          const allowed = Math.floor(((performance.now() - startedAt) * rate) / 1000) + 1 - emitted;
          if (allowed <= 0) {
            waitUntil = startedAt + (emitted * 1000) / rate;
            return next < count ? "NOTHING_AVAILABLE" : "END_OF_INPUT";
          }
          budget = Math.min(budget, allowed);
        }
        for (let k = 0; k < budget && next < count; ) {
          if (next < priorEnd && emittedBy(prior, next)) {
            next += step;
            continue;
          }
          const event = gen.event(next);
          output.collect(event, event.type === 2 ? event.bid.dateTime : event.type === 1 ? event.auction.dateTime : event.person.dateTime);
          next += step;
          emitted++;
          k++;
        }
        if (prior.length > 0 && next >= priorEnd) {
          prior = [];
          priorEnd = 0;
        }
        return next < count ? "MORE_AVAILABLE" : "END_OF_INPUT";
      },
      snapshotState: (): NexmarkPosition[] => [{ parallelism: step, subtask, next }, ...prior],
      isAvailable(): Promise<void> {
        const delay = waitUntil - performance.now();
        return delay <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, Math.ceil(delay)));
      },
    };
  }
}
