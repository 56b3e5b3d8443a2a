/**
 * Runs Riffle's benchmarks, each next to a baseline measured in the same run, and writes
 * bench/results/core.{json,md} (throughput, latency), bench/results/state.{json,md} (state
 * backends, checkpoints, recovery), bench/results/eventtime.{json,md} (Nexmark, windows) and
 * bench/results/kafka.{json,md} (the Kafka test broker), bench/results/ha.{json,md} (high
 * availability) and bench/results/dashboard.{json,md}; a run writes only the pairs of the
 * benchmarks it ran.
 *
 * Benchmarks: stateless-chain, keyed-shuffle, latency (core); state-backends, checkpoint-1m-keys,
 * recovery (state); nexmark, windows (eventtime); memory (memory: RSS under 100 B to 10 MB records);
 * kafka-broker, kafka-connectors (kafka); ha-election, ha-failover, ha-checkpoint-cost (ha); dashboard (dashboard: job page load and the JobManager's CPU
 * with 10 dashboards open, ~3 minutes); autoscaler-cluster (the autoscaler over five load traces on a
 * real cluster, ~11 minutes: it writes its own table, plots and JSON, bench/results/autoscaler-cluster.*,
 * and no rows of a pair). What each row measures is in the header comment of
 * the benchmark's file. Durations measured before state-backends' 1M-key rows and nexmark's q5/q7
 * rows over 120 s of event time were added (both add minutes): nexmark about 4-5 minutes, windows
 * about 1.5 minutes, all of them about 11-12 minutes on 2 cores.
 *
 *   npm run bench                                         all of the above (not bench/autoscaler-traces.ts and
 *                                                         bench/taskmanager-start.ts, which are run on their own)
 *   node --import tsx bench/run.ts keyed-shuffle latency  some of them (their rows replace the old ones)
 *   node --import tsx bench/run.ts nexmark windows        the eventtime pair
 *   node --import tsx bench/run.ts --quick                small counts, one run: checks they still work;
 *                                                         prints the table but writes no results
 *   options: --runs <n> (measured runs per side, default 3), --profile (CPU profiles of the cluster
 *            processes under bench/results/profiles/, slot workers one per 5 s window in which they
 *            were busy, see profile-hook.cjs; profiled numbers are not written as results)
 *
 * The keyed shuffle's tasks without a cluster, for CPU time per record and profiles of the data path:
 * bench/dev/keyed-shuffle-in-process.ts.
 *
 * Run `npm run build` first when calling run.ts directly: the cluster runs the compiled CLI.
 */
import { RESULTS_DIR, completeResult, machine, markdown, summaryLine, writeReport } from "./report.js";
import type { Benchmark, BenchmarkContext, BenchmarkResult } from "./benchmark.js";
import { statelessChain } from "./stateless-chain.js";
import { keyedShuffle } from "./keyed-shuffle.js";
import { latency } from "./latency.js";
import { stateBackends } from "./state-backends.js";
import { checkpoint1mKeys } from "./checkpoint-1m-keys.js";
import { recovery } from "./recovery.js";
import { nexmark } from "./nexmark.js";
import { windows } from "./windows.js";
import { memory } from "./memory.js";
import { kafkaBroker } from "./kafka-broker.js";
import { kafkaConnectors } from "./kafka-connectors.js";
import { haElection } from "./ha-election.js";
import { haFailover } from "./ha-failover.js";
import { haCheckpointCost } from "./ha-checkpoint-cost.js";
import { dashboard } from "./dashboard.js";
import { autoscalerCluster } from "./autoscaler-cluster.js";

/** In this order: latency takes the keyed shuffle's rate when both run. */
const BENCHMARKS: Benchmark[] = [
  statelessChain,
  keyedShuffle,
  latency,
  stateBackends,
  checkpoint1mKeys,
  recovery,
  nexmark,
  windows,
  memory,
  kafkaBroker,
  kafkaConnectors,
  haElection,
  haFailover,
  haCheckpointCost,
  dashboard,
  autoscalerCluster,
];

interface Options {
  names: string[];
  quick: boolean;
  runs: number | undefined;
  profile: boolean;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { names: [], quick: false, runs: undefined, profile: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--quick") options.quick = true;
    else if (arg === "--profile") options.profile = true;
    else if (arg === "--runs") {
      options.runs = Number(argv[++i]);
      if (!Number.isInteger(options.runs) || options.runs < 1) throw new Error(`--runs needs a positive integer, got ${argv[i]}`);
    } else if (arg.startsWith("-")) throw new Error(`unknown option ${arg}`);
    else if (BENCHMARKS.some((b) => b.name === arg)) options.names.push(arg);
    else throw new Error(`unknown benchmark ${arg}; there are: ${BENCHMARKS.map((b) => b.name).join(", ")}`);
  }
  return options;
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const selected = options.names.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => options.names.includes(b.name));
  const on = machine();
  const command =
    options.names.length === 0 && !options.quick && options.runs === undefined
      ? "npm run bench"
      : `node --import tsx bench/run.ts ${process.argv.slice(2).join(" ")}`;
  console.log(`Riffle benchmarks on ${on.cpu} (${on.cores} cores), Node ${on.node}${options.quick ? " — quick mode, numbers are not results" : ""}`);

  const results: BenchmarkResult[] = [];
  /** Results pair of every benchmark that ran. */
  const pairOf = new Map<string, string>(selected.map((b) => [b.name, b.results ?? "core"]));
  const failures: string[] = [];
  const started = performance.now();
  for (const benchmark of selected) {
    const t0 = performance.now();
    console.log(`\n▶ ${benchmark.name}`);
    const ctx: BenchmarkContext = {
      quick: options.quick,
      runs: options.runs ?? (options.quick ? 1 : 3),
      profileDir: options.profile ? `${RESULTS_DIR}profiles` : undefined,
      earlier: results,
      log: (message) => console.log(`  ${message}`),
    };
    try {
      const measured = await benchmark.run(ctx);
      for (const m of measured) {
        const r = completeResult(m, on);
        results.push(r);
        console.log(`  ${summaryLine(r)}`);
      }
    } catch (err) {
      // One broken benchmark must not hide the others' numbers; the run still fails at the end.
      failures.push(benchmark.name);
      console.error(`  ${benchmark.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
    console.log(`  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  console.log(`\nall benchmarks: ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

  for (const pair of new Set(pairOf.values())) {
    const rows = results.filter((r) => pairOf.get(r.benchmark) === pair);
    // A benchmark that writes its own report (autoscaler-cluster) gives no rows: nothing to print or write.
    if (rows.length === 0) continue;
    if (options.quick || options.profile) {
      console.log(markdown({ name: pair, command, machine: on, results: rows }));
      console.log(`${options.quick ? "quick mode" : "profiling"}: ${pair}.json and ${pair}.md left unchanged\n`);
    } else {
      // Only a run of every benchmark of the pair replaces the whole file.
      const partial = options.names.length > 0 && BENCHMARKS.some((b) => (b.results ?? "core") === pair && !pairOf.has(b.name));
      console.log(writeReport(rows, command, on, partial, pair));
      console.log(`written: ${RESULTS_DIR}${pair}.json, ${RESULTS_DIR}${pair}.md\n`);
    }
  }
  if (failures.length > 0) console.error(`failed: ${failures.join(", ")}`);
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(2);
  },
);
