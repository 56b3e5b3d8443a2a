/**
 * Benchmark 3: end-to-end latency of a rate-limited keyed job. Each record carries its generation
 * time; after the keyBy (crossing TaskManagers for about half the records) a map computes how long
 * the record took to get there, and the latencies are collected back to the benchmark.
 *
 * Only every k-th latency of each subtask is collected (`--sample-every`): the collect path (sink →
 * JobManager → REST → client) takes about 250k rec/s here with buffer timeout 0, less than the 10% of
 * a keyed shuffle's rate this job runs at, and a saturated sink would measure its own back-pressure.
 *
 * The clock is performance.timeOrigin + performance.now(): wall-clock based, so comparable between
 * processes on one machine, and sub-millisecond.
 *
 *   args: --count <records> --rate <records/s, all subtasks> [--buffer-timeout <ms>] [--sample-every <k>]
 */
import type { StreamExecutionEnvironment } from "@riffle/sdk";
import { KEYS } from "./records.js";

export interface Timed {
  key: string;
  /** Generation time, ms since the epoch. */
  t: number;
}

export interface Latency {
  t: number;
  /** From generation to the map after the shuffle, ms. */
  ms: number;
}

export default function latency(env: StreamExecutionEnvironment): void {
  env.setParallelism(2);
  const bufferTimeout = env.param("buffer-timeout", "");
  if (bufferTimeout !== "") env.setBufferTimeout(Number(bufferTimeout));
  const sampleEvery = Number(env.param("sample-every", "1"));
  // One counter per task: each task runs the job function for its own function table.
  let seen = 0;
  env
    .datagen({
      count: Number(env.param("count")),
      ratePerSecond: Number(env.param("rate")),
      generator: (i): Timed => ({ key: `k${i % KEYS}`, t: performance.timeOrigin + performance.now() }),
    })
    .keyBy((r) => r.key)
    .map((r): Latency => ({ t: r.t, ms: performance.timeOrigin + performance.now() - r.t }))
    .name("latency")
    .filter(() => ++seen % sampleEvery === 0)
    .name("sample")
    .collect();
}
