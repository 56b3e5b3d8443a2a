/**
 * Keyed counting for the savepoint tests: a rate-limited bounded datagen → keyBy → a count per key in
 * keyed state → the exactly-once file sink, with checkpoints. Every operator has a uid, so state
 * follows the operators across savepoints, restores and rescales.
 *
 * The rolling counts form the same multiset in every correct run ((k, 1), ..., (k, n_k) for every
 * key k), however often the job was stopped, moved or rescaled in between.
 *
 *   args: --out <dir> --count <records> --rate <records/s, 0 = unlimited> --keys <n>
 *         [--count-uid <uid>]          the counting operator's uid (a "changed job" when not the default)
 *         [--max-parallelism <n>]      default 128
 *         [--checkpoint-interval <ms>] default 300
 *         [--tolerable-failures <n>]   consecutive failed checkpoints tolerated, default the cluster's
 */
import type { StreamExecutionEnvironment } from "@riffle/sdk";
import { CountPerKey } from "./exactly-once.js";

export default function savepointCount(env: StreamExecutionEnvironment): void {
  const keys = Number(env.param("keys", "50"));
  const rate = Number(env.param("rate"));
  const tolerable = env.param("tolerable-failures", "");
  env.enableCheckpointing(Number(env.param("checkpoint-interval", "300")), tolerable ? { tolerableFailures: Number(tolerable) } : {});
  env.setMaxParallelism(Number(env.param("max-parallelism", "128")));
  env.setStateBackend("leveldb");
  env.setRestartStrategy({ type: "fixed-delay", attempts: 10, delayMs: 200 });
  env
    .datagen({ count: Number(env.param("count")), ...(rate > 0 ? { ratePerSecond: rate } : {}), generator: (i) => i })
    .uid("numbers")
    .keyBy((i) => i % keys)
    .process(new CountPerKey())
    .uid(env.param("count-uid", "count-per-key"))
    .writeExactlyOnce(env.param("out"))
    .uid("files");
}
