/** What every benchmark is given and what it returns. */

export interface BenchmarkContext {
  /** Small counts and one run: checks that the benchmark still works, numbers mean little. */
  readonly quick: boolean;
  /** Measured repetitions of each side; reported values are medians. */
  readonly runs: number;
  /** When set, cluster processes write V8 CPU profiles under this directory. */
  readonly profileDir: string | undefined;
  /** Results of the benchmarks that ran before this one in the same run. */
  readonly earlier: readonly BenchmarkResult[];
  log(message: string): void;
}

export interface Benchmark {
  /** The name given to `bench/run.ts <name>`. */
  readonly name: string;
  /** Results pair it writes to: bench/results/<results>.{json,md}; default "core". */
  readonly results?: string;
  run(ctx: BenchmarkContext): Promise<Measured[]>;
}

/** One measured quantity of Riffle next to the baseline measured in the same run. */
export interface BenchmarkResult {
  benchmark: string;
  /** "throughput", "latency p99", ... */
  metric: string;
  /** Human title of the row in the report. */
  title: string;
  value: number;
  unit: string;
  baseline: { name: string; value: number };
  /** value / baseline.value. */
  ratio: number;
  /** Whether a larger value is better (throughput) or a smaller one (latency). */
  better: "higher" | "lower";
  /**
   * The aim: `min` for the ratio (e.g. ≥ 0.25), `max` for the value itself in its unit (e.g. a
   * duration ≤ 50 ms, when the baseline only gives context); none for informative rows.
   */
  aim?: { min: number } | { max: number } | undefined;
  parameters: Record<string, string | number | boolean>;
  /** Every measured run, Riffle and baseline, for judging the noise. */
  samples: { value: number[]; baseline: number[] };
  date: string;
  node: string;
  cpu: string;
  cores: number;
}

export type Measured = Omit<BenchmarkResult, "date" | "node" | "cpu" | "cores" | "ratio">;
