/**
 * Baseline of the Nexmark benchmark: examples/nexmark/fused.ts's hand-written loop of a query (it
 * generates every event of the same stream, runs the query on it with its state in Maps and hands
 * each row to a blackhole), in a process of its own: events/s on one core with no framework.
 *
 *   node --import tsx bench/baselines/nexmark-fused.ts <q0|q1|q2|q5|q7> <events> [eventsPerSecond]   (prints `RESULT {...}`)
 *
 * eventsPerSecond is the event-time rate of the stream (default Nexmark's 10M/s), as the job's
 * --events-per-second: both sides see the same events with the same timestamps.
 */
import { FUSED_QUERIES, type FusedResult } from "../../examples/nexmark/fused.js";
import { BaselineProcess, isMain, reportToParent } from "./child.js";

export type FusedQueryName = keyof typeof FUSED_QUERIES;

/** Runs the fused loop of `query` over `events` events in a child process (after a JIT warm-up there). */
export async function measureNexmarkFused(query: FusedQueryName, events: number, eventsPerSecond?: number): Promise<FusedResult> {
  const args = [query, String(events), ...(eventsPerSecond === undefined ? [] : [String(eventsPerSecond)])];
  const child = new BaselineProcess(new URL(import.meta.url).pathname, args);
  try {
    return await child.report<FusedResult>("RESULT");
  } finally {
    await child.stop();
  }
}

if (isMain(import.meta.url)) {
  const query = process.argv[2] as FusedQueryName;
  const events = Number(process.argv[3]);
  const rate = process.argv[4];
  const fused = FUSED_QUERIES[query];
  if (!fused || !Number.isInteger(events) || events <= 0 || (rate !== undefined && !(Number(rate) > 0)))
    throw new Error(`usage: nexmark-fused.ts <${Object.keys(FUSED_QUERIES).join("|")}> <events> [eventsPerSecond], got ${process.argv.slice(2).join(" ")}`);
  // Riffle's job is measured after warm-up jobs on the same TaskManagers; the loop gets a warm-up run.
  // The default config: Nexmark's workload (10M events/s of event time, in order), as the job's; with
  // an event-time rate, that rate, as the job's --events-per-second.
  const config = rate === undefined ? {} : { eventsPerSecond: Number(rate) };
  fused(config, Math.min(events, 1_000_000));
  reportToParent("RESULT", fused(config, events));
}
