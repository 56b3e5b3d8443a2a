/**
 * A Nexmark query as a Riffle job: the Nexmark source (generating events inside the job, as Nexmark's
 * does) → the query → a sink.
 *
 *   riffle run -p 4 examples/nexmark/job.ts --query q5 --events 1000000
 *   riffle run examples/nexmark/job.ts --query q3 --events 100000 --sink collect
 *
 * Arguments (all optional):
 *
 *   --query q0|q1|q2|q3|q4|q5|q7|q8   the query (default q0)
 *   --events N                 events to generate, all types (default 10000000; 0: unbounded)
 *   --rate N                   event-time events per second: spaces the timestamps (default 10000000,
 *                              Nexmark's published workload); not a wall-clock rate
 *   --wall-rate N              wall-clock cap in events per second over all source subtasks (default 0: none)
 *   --out-of-orderness MS      timestamps lowered by up to MS, the watermark trailing as much (default 0)
 *   --seed N                   the generator's seed (default 0)
 *   --sink discard|print|collect  where rows go (default discard, as Nexmark's blackhole)
 *   --checkpoint-interval MS   checkpoint every MS (default 0: no checkpoints)
 *   --backend memory|leveldb   the state backend (default: the cluster's state.backend)
 */
import type { StreamExecutionEnvironment } from "@riffle/sdk";
import { DiscardSink, isQueryName, type NexmarkQuery, nexmarkEvents, QUERIES } from "./queries/index.js";

const SINKS = ["discard", "print", "collect"] as const;

export default function nexmark(env: StreamExecutionEnvironment): void {
  const query = env.param("query", "q0");
  const events = integer(env, "events", "10000000", 0);
  const rate = positive(env, "rate", "10000000");
  const wallRate = integer(env, "wall-rate", "0", 0);
  const outOfOrdernessMs = integer(env, "out-of-orderness", "0", 0);
  const seed = integer(env, "seed", "0", Number.MIN_SAFE_INTEGER);
  const sink = env.param("sink", "discard");
  const checkpointIntervalMs = integer(env, "checkpoint-interval", "0", 0);
  const backend = env.param("backend", "");

  if (!isQueryName(query)) throw new Error(`unknown --query ${query}: use one of ${Object.keys(QUERIES).join(", ")}`);
  if (!(SINKS as readonly string[]).includes(sink)) throw new Error(`unknown --sink ${sink}: use one of ${SINKS.join(", ")}`);
  if (checkpointIntervalMs > 0) env.enableCheckpointing(checkpointIntervalMs);
  if (backend !== "") env.setStateBackend(backend as "memory" | "leveldb");
  env.setJobName(`nexmark-${query}`);

  const source = nexmarkEvents(env, {
    seed,
    eventsPerSecond: rate,
    outOfOrdernessMs,
    maxEvents: events === 0 ? undefined : events,
    ratePerSecond: wallRate === 0 ? undefined : wallRate,
  });
  // Each query has its own row type; the sinks take any.
  const rows = (QUERIES[query] as NexmarkQuery<unknown>)(source, env);
  if (sink === "collect") rows.collect();
  else if (sink === "print") rows.print();
  else rows.sinkTo(new DiscardSink()).name("Discard Sink");
}

function integer(env: StreamExecutionEnvironment, name: string, fallback: string, min: number): number {
  const text = env.param(name, fallback);
  const n = text.trim() === "" ? Number.NaN : Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got "${text}"`);
  return n;
}

function positive(env: StreamExecutionEnvironment, name: string, fallback: string): number {
  const text = env.param(name, fallback);
  const n = text.trim() === "" ? Number.NaN : Number(text);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`--${name} must be a number > 0, got "${text}"`);
  return n;
}
