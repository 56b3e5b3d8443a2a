import { RiffleError, describeError, type JobGraph } from "@riffle/shared";
import { StreamExecutionEnvironment } from "../api/environment.js";
import { buildJobGraph, type BuildOptions } from "./build.js";

/** The default export of a job module. */
export type JobFunction = (env: StreamExecutionEnvironment) => void | Promise<void>;

function jobFunctionOf(moduleNs: unknown): JobFunction {
  const fn = (moduleNs as { default?: unknown } | null)?.default;
  if (typeof fn !== "function") {
    throw new RiffleError(
      "JOB_NO_DEFAULT_EXPORT",
      "the job module has no default export function: write `export default function myJob(env: StreamExecutionEnvironment) { ... }`",
    );
  }
  return fn as JobFunction;
}

async function runJobFunction(fn: JobFunction, env: StreamExecutionEnvironment): Promise<void> {
  try {
    await fn(env);
  } catch (err) {
    if (err instanceof RiffleError) throw err;
    throw new RiffleError("JOB_PLAN_FAILED", `the job function threw while building the pipeline: ${describeError(err)}`, { cause: err });
  }
}

/** Plan mode: runs the job function and builds its JobGraph. */
export async function planJob(moduleNs: unknown, args: readonly string[], options: BuildOptions): Promise<JobGraph> {
  const fn = jobFunctionOf(moduleNs);
  const env = new StreamExecutionEnvironment("plan", args);
  await runJobFunction(fn, env);
  return buildJobGraph(env, options);
}

/**
 * Run mode: runs the job function again and returns its function table. The job must build the same
 * pipeline as in plan mode; a different number of functions means it did not, and is refused.
 */
export async function instantiateJob(moduleNs: unknown, args: readonly string[], expectedFunctions: number): Promise<unknown[]> {
  const fn = jobFunctionOf(moduleNs);
  const env = new StreamExecutionEnvironment("run", args);
  await runJobFunction(fn, env);
  if (env.functions.length !== expectedFunctions) {
    throw new RiffleError(
      "JOB_INVALID_GRAPH",
      `the job built ${env.functions.length} functions on the TaskManager but ${expectedFunctions} when planned: a job must build the same pipeline every time it runs (no randomness or clock in how it is built)`,
    );
  }
  return env.functions;
}
