/**
 * Baseline of the stateless chain: the same generator, map and filter as bench/jobs/stateless-chain.ts,
 * fused by hand into one loop in a process of its own. No framework can beat it on one core, so
 * Riffle's rate divided by this one is the share of the core left to user code.
 *
 *   node --import tsx bench/baselines/fused-loop.ts <records>     (prints `RESULT {...}`)
 */
import { doubled, notMultipleOfThree, reading, type Doubled } from "../jobs/records.js";
import { BaselineProcess, isMain, reportToParent } from "./child.js";

export interface FusedLoopResult {
  records: number;
  /** Records that passed the filter: checks that both sides did the same work. */
  kept: number;
  seconds: number;
  recordsPerSecond: number;
}

/**
 * The discarding sink's blackhole (as in JMH): it keeps the last record it was given. Riffle's sink
 * receives every record as an object; without this, V8 replaces the records by their fields and the
 * loop measures bare arithmetic (~170-190M rec/s here), which no pipeline that hands records from one
 * function to the next can approach.
 */
export let lastWritten: Doubled | undefined;

function fusedLoop(records: number): FusedLoopResult {
  const start = performance.now();
  let kept = 0;
  for (let i = 0; i < records; i++) {
    const r = doubled(reading(i));
    if (notMultipleOfThree(r)) {
      lastWritten = r;
      kept++;
    }
  }
  const seconds = (performance.now() - start) / 1000;
  return { records, kept, seconds, recordsPerSecond: records / seconds };
}

/** Runs the fused loop over `records` records in a child process (after a JIT warm-up there). */
export async function measureFusedLoop(records: number): Promise<FusedLoopResult> {
  const child = new BaselineProcess(new URL(import.meta.url).pathname, [String(records)]);
  try {
    return await child.report<FusedLoopResult>("RESULT");
  } finally {
    await child.stop();
  }
}

if (isMain(import.meta.url)) {
  const records = Number(process.argv[2]);
  if (!Number.isInteger(records) || records <= 0) throw new Error(`usage: fused-loop.ts <records>, got ${process.argv[2]}`);
  // Riffle's job gets a warm-up job on the same TaskManager before it is timed; so does this loop.
  fusedLoop(Math.min(records, 2_000_000));
  reportToParent("RESULT", fusedLoop(records));
}
