/**
 * Baseline of the state-backends benchmark: the same keys as bench/jobs/keyed-state.ts, counted per
 * key in a Map in one hand-written loop, in a process of its own. It has no framework, no state
 * backend and no checkpoints: Riffle's memory backend divided by this rate is the share of a core
 * left after keyed state, the task loop and the keyBy exchange.
 *
 *   node --import tsx bench/baselines/keyed-count-loop.ts <records> <keys>     (prints `RESULT {...}`)
 */
import { stateKey } from "../jobs/records.js";
import { BaselineProcess, isMain, reportToParent } from "./child.js";

export interface KeyedCountLoopResult {
  records: number;
  keys: number;
  seconds: number;
  recordsPerSecond: number;
}

/** The discarding sink's blackhole (see fused-loop.ts): Riffle's sink is handed every new count. */
export let lastWritten = 0;

function keyedCountLoop(records: number, keys: number): KeyedCountLoopResult {
  const counts = new Map<string, number>();
  const start = performance.now();
  for (let i = 0; i < records; i++) {
    const key = stateKey(i, keys);
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    lastWritten = n;
  }
  const seconds = (performance.now() - start) / 1000;
  if (counts.size !== Math.min(records, keys)) throw new Error(`expected ${Math.min(records, keys)} keys, counted ${counts.size}`);
  return { records, keys, seconds, recordsPerSecond: records / seconds };
}

/** Runs the loop over `records` records in a child process (after a JIT warm-up there). */
export async function measureKeyedCountLoop(records: number, keys: number): Promise<KeyedCountLoopResult> {
  const child = new BaselineProcess(new URL(import.meta.url).pathname, [String(records), String(keys)]);
  try {
    return await child.report<KeyedCountLoopResult>("RESULT");
  } finally {
    await child.stop();
  }
}

if (isMain(import.meta.url)) {
  const records = Number(process.argv[2]);
  const keys = Number(process.argv[3]);
  if (!Number.isInteger(records) || records <= 0 || !Number.isInteger(keys) || keys <= 0)
    throw new Error(`usage: keyed-count-loop.ts <records> <keys>, got ${process.argv.slice(2).join(" ")}`);
  // Riffle's job is measured after a warm-up of its own; so is this loop.
  keyedCountLoop(Math.min(records, 1_000_000), keys);
  reportToParent("RESULT", keyedCountLoop(records, keys));
}
