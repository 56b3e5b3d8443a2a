/**
 * The record functions of the benchmarks, imported both by the Riffle jobs (bundled into them) and by
 * the baselines, so both sides generate and transform byte-for-byte the same records.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RuntimeContext, Sink, SinkWriter } from "@riffle/sdk";

export interface Reading {
  id: number;
  v: number;
}

export interface Doubled {
  id: number;
  v2: number;
}

/** Record `i` of the stateless chain: deterministic in i, so every run and both sides see the same data. */
export function reading(i: number): Reading {
  return { id: i, v: (i * 7) % 1000 };
}

export function doubled(r: Reading): Doubled {
  return { id: r.id, v2: r.v * 2 };
}

export function notMultipleOfThree(r: Doubled): boolean {
  return r.v2 % 3 !== 0;
}

/** Records of a stateless chain of `records` records that pass its filter: what its sink must get. */
export function statelessChainOutputs(records: number): number {
  let n = 0;
  for (let i = 0; i < records; i++) if (notMultipleOfThree(doubled(reading(i)))) n++;
  return n;
}

/** Distinct keys of the keyed shuffle: enough that the per-key Map is real work, few enough to stay in cache. */
export const KEYS = 10_000;

export interface Keyed {
  key: string;
  n: number;
}

export function keyed(i: number): Keyed {
  return { key: `k${i % KEYS}`, n: 1 };
}

/**
 * Key of record `i` of the keyed-state benchmarks, over `keys` distinct keys. With as many records
 * as keys, every record has a key of its own.
 */
export function stateKey(i: number, keys: number): string {
  return `k${i % keys}`;
}

/**
 * A discarding sink that counts its writes and, at end of input, writes the count of each subtask to
 * `<dir>/sink-<subtask>.json` as {"writes": n}: the benchmark checks that the job processed every
 * record it was timed for (bench/riffle.ts, timeBoundedJob). One increment per record, no clock.
 */
export class CountingDiscardSink<T> implements Sink<T> {
  constructor(private readonly dir: string) {}

  createWriter(ctx: RuntimeContext): SinkWriter<T> {
    const file = join(this.dir, `sink-${ctx.subtaskIndex}.json`);
    let writes = 0;
    return {
      write() {
        writes++;
      },
      flush() {
        writeFileSync(file, JSON.stringify({ writes }));
      },
    };
  }
}
